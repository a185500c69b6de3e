"""The on-call ladder on Salesforce: the same climb, with Lead owners and Tasks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sandbox.notify import TwilioEmulator
from sandbox.salesforce import SalesforceSandbox
from sync.config import parse_config
from sync.context import build_context
from sync.cycle import run_cycle
from tests.notify.conftest import PHONES
from tests.paging.conftest import LINK_SECRET, nights, pages
from tests.pipeline.conftest import FRIDAY_NIGHT, SF_HANDLES, lead_rows, sf_config_text


def test_an_unacknowledged_salesforce_page_climbs_the_rotation_then_reaches_the_final_owner(
        twilio: TwilioEmulator, tmp_path: Path) -> None:
    clock = [FRIDAY_NIGHT]
    with SalesforceSandbox(clock=lambda: clock[0]) as sf:
        sf.seed_demo()
        text = sf_config_text(sf, tmp_path / "state.db", single_pool=True, sla="30m")
        for ident in SF_HANDLES:
            text = text.replace(f'id = "{ident}"\n', f'id = "{ident}"\n'
                                f'phone = "{PHONES[ident]}"\n', 1)
        environ = {"SALESFORCE_ACCESS_TOKEN": sf.token, "LEADROUTER_LINK_SECRET": LINK_SECRET,
                   "TWILIO_ACCOUNT_SID": twilio.account_sid,
                   "TWILIO_AUTH_TOKEN": twilio.auth_token}
        ctx = build_context(parse_config(nights(text, twilio)), environ=environ,
                            clock=lambda: clock[0])
        try:
            clock[0] -= timedelta(minutes=1)
            lead = sf.create_lead(LastName="Canary", Company="[not provided]", State="AZ")
            clock[0] += timedelta(minutes=1)
            run_cycle(ctx)
            assert lead_rows(ctx)[lead].owner == "maria"
            for who in ("li", "james", "dana"):  # the rotation after maria, then final owner
                clock[0] += timedelta(minutes=11)
                run_cycle(ctx)
                assert sf.get(lead)["OwnerId"] == sf.user_id(who), who
            assert [w for w, _ in pages(twilio)] == ["maria", "li", "james", "dana"]
            assert len(sf.tasks(lead)) == 4
            assert lead_rows(ctx)[lead].status == "escalated_final"
            assert all("Canary" not in body for _, body in pages(twilio))
        finally:
            ctx.close()
