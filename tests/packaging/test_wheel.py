"""A regular install works: the wheel, installed into a fresh venv, runs `check` and a cycle.

`pip install .` (pipx, any packaging) uses the wheel, not the source tree, so a package
missing from the wheel only shows there. The test builds the wheel from a copy of the
project, installs it (no dependencies, nothing downloaded) into a new venv, and runs the
installed `leadrouter` from a folder outside the repository, so the source tree cannot be
imported by accident. The venv borrows the third-party dependencies of the running one
through a plain path in a .pth file: that adds the directory to sys.path without running the
.pth files in it, so the editable install of the project in that venv stays inactive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.hubspot import HubSpotSandbox
from tests.pipeline.conftest import config_text, seed

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("routing", "state", "connectors", "sync", "sandbox")
# what a build does not need and must not read (the copy keeps the repository untouched:
# setuptools writes build/ and *.egg-info next to the sources)
_IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                  "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                                  "*.db", "*.db-wal", "*.db-shm", "tests")


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "LEADROUTER_CONFIG")}
    env.update(extra)
    return env


@dataclass
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # outside the repository

    @property
    def leadrouter(self) -> Path:
        return self.venv / "bin" / "leadrouter"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.is_relative_to(ROOT)
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_IGNORED)
    dist = base / "dist"
    # --no-build-isolation: build with this venv's setuptools (the test extra pins it) so
    # nothing is downloaded; --no-index makes sure of it
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--no-index", "-q", "-w", dist, source, cwd=base, env=_clean_env())
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("leadrouter-*.whl")

    venv = base / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    # install first, while the new venv sees nothing else: pip must not find (and never
    # touch) the editable install of the running venv
    done = _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
                "--no-index", "-q", wheel, cwd=base, env=_clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                cwd=base)
    assert site.returncode == 0, site.stderr
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site.stdout.strip(), "_leadrouter_test_deps.pth").write_text(
        "".join(f"{path}\n" for path in sorted(deps)))
    workdir = base / "work"
    workdir.mkdir()
    yield Installed(wheel, venv, workdir)


def test_wheel_holds_every_package_and_data_file(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    expected = {
        path.relative_to(ROOT).as_posix()
        for top in TOP_LEVEL
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert expected - names == set(), "modules missing from the wheel"
    assert {"sync/data/demo.toml", "sync/data/leadrouter.service"} <= names
    assert {"sync/service/templates/dashboard.html", "sync/service/static/dashboard.js",
            "sync/service/static/vendor/uPlot.iife.min.js"} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/")) or "__pycache__" in n]


def test_installed_code_is_the_wheel_not_the_source_tree(installed: Installed) -> None:
    probe = _run(installed.python, "-c",
                 "import sync, state.repos, connectors.hubspot, sandbox.hubspot; "
                 "print(sync.__file__)", cwd=installed.workdir, env=_clean_env())
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).is_relative_to(installed.venv), probe.stdout


def test_installed_check_accepts_the_example(installed: Installed) -> None:
    config = installed.workdir / "leadrouter.toml"
    shutil.copy(ROOT / "config.example.toml", config)
    result = _run(installed.leadrouter, "check", cwd=installed.workdir, env=_clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 coordinators, 6 rules" in result.stdout


def test_installed_sync_once_routes_sandbox_leads(installed: Installed, tmp_path: Path) -> None:
    with HubSpotSandbox() as box:
        box.seed_demo()
        ids = seed(box, 5)
        config = tmp_path / "leadrouter.toml"
        config.write_text(config_text(box, tmp_path / "state.db"))
        result = _run(installed.leadrouter, "--config", config, "sync", "--once",
                      cwd=installed.workdir, env=_clean_env(HUBSPOT_TOKEN=box.token),
                      timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert f"{len(ids)} routed" in result.stdout, result.stdout
        assert f"{len(ids)} owners written" in result.stdout, result.stdout
