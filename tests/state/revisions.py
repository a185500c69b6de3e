"""Extra Alembic revisions written by tests into a temporary version folder, after the
packaged head: they exercise real upgrades past what the code ships."""

from __future__ import annotations

import textwrap
from pathlib import Path

from alembic.config import Config

from state import migrations as mig


def write_revision(folder: Path, number: int, upgrade_body: str) -> None:
    """`folder/<number>_probe.py`, revising the one before; `upgrade_body` uses `op` and `sa`."""
    folder.mkdir(parents=True, exist_ok=True)
    body = textwrap.indent(textwrap.dedent(upgrade_body).strip(), "    ")
    (folder / f"{number:04d}_probe.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f'revision = "{number:04d}"\n'
        f'down_revision = "{number - 1:04d}"\n'
        "branch_labels = None\n"
        "depends_on = None\n\n\n"
        f"def upgrade() -> None:\n{body}\n\n\n"
        "def downgrade() -> None:\n    raise NotImplementedError\n"
    )


def probe_revisions(folder: Path, *numbers: int) -> Config:
    """Revisions that each create `probe_v<N>` and log N in `probe_runs` (run order)."""
    for number in numbers:
        write_revision(
            folder,
            number,
            f"""
            if {number} == {numbers[0]}:
                op.create_table("probe_runs", sa.Column("id", sa.Integer, primary_key=True),
                                sa.Column("version", sa.Integer, nullable=False))
            op.create_table("probe_v{number}", sa.Column("id", sa.Integer, primary_key=True))
            op.execute("INSERT INTO probe_runs (version) VALUES ({number})")
            """,
        )
    return mig.alembic_config(folder)
