"""The HubSpot pipeline against the HubSpot sandbox through the real client library."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sandbox.hubspot import HubSpotSandbox
from sandbox.salesforce import SalesforceSandbox
from sync.config import Config, parse_config
from sync.context import Context, build_context

# The demo owners 1001-1008 plus the supervisor 1009, no schedules (always on shift).
COORDINATORS = {
    "maria": ("1001", ["commercial", "vob"]), "li": ("1002", ["commercial", "vob"]),
    "james": ("1003", ["medicaid"]), "sofia": ("1004", ["medicaid", "spanish"]),
    "devon": ("1005", ["commercial"]), "aisha": ("1006", ["commercial", "vob"]),
    "carlos": ("1007", ["commercial", "spanish"]), "priya": ("1008", ["medicaid"]),
    "dana": ("1009", ["supervisor"]),
}
RULE_POOLS = {
    "commercial": {"maria", "li", "devon", "aisha", "carlos"},
    "medicaid": {"james", "sofia", "priya"},
    "everyone": {"maria", "li", "james", "sofia", "devon", "aisha", "carlos", "priya"},
}


def expected_rule(properties: dict[str, Any]) -> str:
    insurance = str(properties.get("insurance_type") or "").strip().lower()
    if insurance in ("commercial", "ppo", "hmo"):
        return "commercial"
    if insurance in ("medicaid", "medicare"):
        return "medicaid"
    return "everyone"


def config_text(box: HubSpotSandbox, db: Path, *, sla: str = "10m",
                max_reassignments: int = 2, extra_service: str = "",
                extra_hubspot: str = "", single_pool: bool = False,
                state_url: str | None = None) -> str:
    """The test config; the store is the SQLite file `db` unless `state_url` is given."""
    coordinators = "\n".join(
        f'[[coordinators]]\nid = "{ident}"\ncrm_owner_id = "{owner}"\nteams = {teams!r}\n'
        .replace("'", '"')
        for ident, (owner, teams) in COORDINATORS.items())
    if single_pool:
        rules = f"""
[[rules]]
name = "everyone"
pool = {{ teams = ["commercial", "medicaid"] }}
strategy = "round_robin"
sla = "{sla}"
"""
    else:
        rules = f"""
[[rules]]
name = "commercial"
when = {{ insurance = ["commercial", "ppo", "hmo"] }}
pool = {{ teams = ["commercial"] }}
strategy = "round_robin"
sla = "{sla}"

[[rules]]
name = "medicaid"
when = {{ insurance = ["medicaid", "medicare"] }}
pool = {{ teams = ["medicaid"] }}
strategy = "least_loaded"
sla = "{sla}"

[[rules]]
name = "everyone"
pool = {{ teams = ["commercial", "medicaid"] }}
strategy = "round_robin"
sla = "{sla}"
"""
    return f"""
[service]
state_url = "{state_url or f'sqlite:///{db}'}"
backfill = "24h"
{extra_service}

[crm]
kind = "hubspot"

[crm.hubspot]
base_url = "{box.base_url}"
token_env = "HUBSPOT_TOKEN"
ca_bundle = "{box.ca_file}"
placeholder_owners = ["1090"]
{extra_hubspot}

[fields]
insurance = "insurance_type"
state = "state"
zip = "zip"
source = "hs_analytics_source"
level_of_care = "level_of_care"

[routing]
fallback_owner = "dana"

[escalation]
max_reassignments = {max_reassignments}
final_owner = "dana"

{coordinators}
{rules}
"""



def seed(box: HubSpotSandbox, count: int, *, owned: int = 0, seed_value: int = 1) -> list[str]:
    now = datetime.now(UTC)
    return box.seed_contacts(count, owned_fraction=owned / count if count else 0,
                             created_between=(now - timedelta(hours=3),
                                              now - timedelta(minutes=2)),
                             rng_seed=seed_value)


@pytest.fixture
def make_context(box: HubSpotSandbox, tmp_path: Path) -> Iterator[Callable[..., Context]]:
    made: list[Context] = []

    def factory(**options: Any) -> Context:
        connector_options = options.pop("connector_options", {})
        config: Config = parse_config(config_text(box, tmp_path / "state.db", **options))
        ctx = build_context(config, environ={"HUBSPOT_TOKEN": box.token}, **connector_options)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


def hubspot_context(box: HubSpotSandbox, state_url: str, **options: Any) -> Context:
    """The real pipeline on `state_url` against the sandbox (close it when done)."""
    config = parse_config(config_text(box, Path("unused.db"), state_url=state_url, **options))
    return build_context(config, environ={"HUBSPOT_TOKEN": box.token})


# Weekdays 08:00-18:00 in Phoenix (UTC-7, no DST): Friday 21:00 there is 2026-11-28 04:00 UTC,
# and the next shift starts Monday 2026-11-30 15:00 UTC.
FRIDAY_NIGHT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
MONDAY_SHIFT_START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
_DAY_SCHEDULE = """
[schedules.days]
timezone = "America/Phoenix"
hours = [{ days = "mon-fri", start = "08:00", end = "18:00" }]
"""


def night_context(box: HubSpotSandbox, db: Path, clock: list[datetime]) -> Context:
    """One pool working weekday office hours in Phoenix; the time is `clock[0]`."""
    text = config_text(box, db, single_pool=True)
    text = text.replace("\nteams = [", '\nschedule = "days"\nteams = [') + _DAY_SCHEDULE
    return build_context(parse_config(text), environ={"HUBSPOT_TOKEN": box.token},
                         clock=lambda: clock[0])


def write_config(box: HubSpotSandbox, folder: Path, **options: Any) -> Path:
    path = folder / "leadrouter.toml"
    path.write_text(config_text(box, folder / "state.db", **options))
    return path


WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


def is_write_call(method: str, path: str) -> bool:
    return method in WRITE_METHODS and not path.endswith("/search") and \
        not path.endswith("/batch/read")


def lead_rows(ctx: Context) -> dict[str, Any]:
    """Every lead, as the values the store hands out (readable after the unit ends)."""
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = uow.leads.by_status()
    return {row.crm_id: row for row in rows}


# --- Salesforce (the same scenarios against the Salesforce sandbox) -----------------------------
SF_HANDLES = ("maria", "li", "james", "sofia", "devon", "aisha", "carlos", "priya", "dana")
SF_FIELDS = {"insurance": "Insurance_Type__c", "state": "State", "zip": "PostalCode",
             "source": "LeadSource", "level_of_care": "Level_of_Care__c"}


def sf_config_text(sf_box: SalesforceSandbox, db: Path, *, sla: str = "10m",
                   max_reassignments: int = 2, single_pool: bool = False,
                   extra_salesforce: str = "") -> str:
    """The HubSpot test config with `[crm.salesforce]`; coordinators found by email."""
    text = config_text(_NO_HUBSPOT, db, sla=sla, max_reassignments=max_reassignments,
                       single_pool=single_pool)
    head, _, rest = text.partition("[crm]")
    _, _, tail = rest.partition("[routing]")
    coordinators_start = tail.index("[[coordinators]]")
    rules_start = tail.index("[[rules]]")
    coordinators = "\n".join(
        f'[[coordinators]]\nid = "{ident}"\nemail = "{ident}@sunrise-recovery.example"\n'
        f"teams = {COORDINATORS[ident][1]!r}\n".replace("'", '"') for ident in SF_HANDLES)
    fields = "\n".join(f'{attr} = "{name}"' for attr, name in SF_FIELDS.items())
    return f"""{head}
[crm]
kind = "salesforce"

[crm.salesforce]
instance_url = "{sf_box.instance_url}"
token_env = "SALESFORCE_ACCESS_TOKEN"
object = "Lead"
ca_bundle = "{sf_box.ca_file}"
placeholder_owners = ["{sf_box.user_id('intake')}"]
{extra_salesforce}

[fields]
{fields}

[routing]
{tail[:coordinators_start]}
{coordinators}
{tail[rules_start:]}
"""


class _NoHubSpot:
    base_url = "https://127.0.0.1:1"
    ca_file = ""


_NO_HUBSPOT: Any = _NoHubSpot()


@pytest.fixture
def sf_box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox() as sandbox:
        sandbox.seed_demo()
        yield sandbox


def sf_seed(sf_box: SalesforceSandbox, count: int, *, owned: int = 0,
            seed_value: int = 1) -> list[str]:
    now = datetime.now(UTC)
    ids: list[str] = sf_box.seed_leads(count, owned_fraction=owned / count if count else 0,
                                       created_between=(now - timedelta(hours=3),
                                                        now - timedelta(minutes=2)),
                                       rng_seed=seed_value)
    return ids


@pytest.fixture
def make_sf_context(sf_box: SalesforceSandbox, tmp_path: Path
                    ) -> Iterator[Callable[..., Context]]:
    made: list[Context] = []

    def factory(**options: Any) -> Context:
        connector_options = options.pop("connector_options", {})
        config: Config = parse_config(sf_config_text(sf_box, tmp_path / "state.db", **options))
        ctx = build_context(config, environ={"SALESFORCE_ACCESS_TOKEN": sf_box.token},
                            **connector_options)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        ctx.close()


def write_sf_config(sf_box: SalesforceSandbox, folder: Path, **options: Any) -> Path:
    path = folder / "leadrouter.toml"
    path.write_text(sf_config_text(sf_box, folder / "state.db", **options))
    return path
