"""Every assignment, reassignment and escalation tells its owner once per channel."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from connectors.base import AuthError
from sandbox.hubspot import HubSpotSandbox
from sandbox.notify import SlackReceiver, SmtpSink, TwilioEmulator
from state import LeadStatus, OutboxKind, OutboxRow
from sync.context import Context
from sync.cycle import run_cycle
from sync.notify.deliver import deliver_notifications
from tests.notify.helpers import expected, phi_values, received
from tests.pipeline.conftest import lead_rows, seed

ALL = ("email", "slack", "sms")


def _notify_rows(ctx: Context) -> dict[str, int]:
    with ctx.store.unit_of_work(read_only=True) as uow:
        rows = uow.session.exec(select(OutboxRow).where(
            OutboxRow.kind == OutboxKind.NOTIFY.value)).all()
        return dict(Counter(str(r.status) for r in rows))


def test_each_assignment_reassignment_and_escalation_is_sent_once_per_channel(
        box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
        notify_context: Callable[..., Context]) -> None:
    ids = seed(box, 4, seed_value=7)
    ctx = notify_context(sla="2s", single_pool=True)
    run_cycle(ctx)
    for _ in range(3):  # two reassignments, then the final owner
        time.sleep(2.1)
        run_cycle(ctx)
    rows = lead_rows(ctx)
    assert all(rows[cid].status == LeadStatus.ESCALATED_FINAL for cid in ids)

    want = expected(ctx, ids, ALL)
    assert sum(want.values()) == 4 * 4 * 3  # routed, reassigned twice, escalated; 3 channels
    sent, texts = received(smtp, slack, twilio)
    assert Counter(sent) == want
    for text in texts:
        assert "https://crm.example/contacts/" in text
        assert "ref " in text
    for value in phi_values(box, ids):
        assert not any(value in text for text in texts), "a lead's detail was in a message"
    run_cycle(ctx)  # nothing is sent twice
    assert Counter(received(smtp, slack, twilio)[0]) == want
    assert _notify_rows(ctx) == {"done": 48}


def test_refused_and_uncertain_sends_are_neither_lost_nor_doubled(
        box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
        notify_context: Callable[..., Context]) -> None:
    ids = seed(box, 10, seed_value=8)
    ctx = notify_context()
    smtp.fail_next(2, code=451)
    slack.fail_next(2, status=500)
    twilio.fail_next(2, status=500)
    result = run_cycle(ctx)
    outcomes = list(result.notify.outcomes)
    assert result.notify.retried == 6 and result.notify.sent == 24
    # the retries meet more trouble: rate limited, and an SMS stored yet answered 500
    slack.fail_next(1, status=429, retry_after=1)
    twilio.fail_next(1, status=500, accepted=True)
    real_clock, shift = ctx.clock, [timedelta(0)]
    ctx.clock = lambda: real_clock() + shift[0]
    for _ in range(6):  # later runs of the notify step, past every backoff
        shift[0] += timedelta(minutes=6)
        outcomes += deliver_notifications(ctx).outcomes
    # the accepted-but-500 SMS was found by its marker, not sent again
    assert ("sms", "found") in outcomes
    assert Counter(o for _, o in outcomes)["failed"] == 0
    want = expected(ctx, ids, ALL)
    assert sum(want.values()) == 30
    assert Counter(received(smtp, slack, twilio)[0]) == want
    assert _notify_rows(ctx) == {"done": 30}


def test_a_permanently_failing_channel_blocks_neither_slack_nor_routing(
        box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
        notify_context: Callable[..., Context], tmp_path: Path) -> None:
    ids = seed(box, 3, seed_value=9)
    ctx = notify_context(channels=("email", "slack"))
    smtp.fail_next(3, code=550)
    run_cycle(ctx)
    rows = lead_rows(ctx)
    assert all(rows[cid].status == LeadStatus.TASK_CREATED for cid in ids)
    assert len(smtp.messages) == 0
    assert len(slack.messages) == 3
    assert _notify_rows(ctx) == {"done": 3, "failed": 3}
    shown = subprocess.run([sys.executable, "-m", "sync", "--config",
                            str(tmp_path / "leadrouter.toml"), "explain", ids[0]],
                           capture_output=True, text=True, timeout=60,
                           env={"HUBSPOT_TOKEN": box.token, "PATH": "/usr/bin:/bin",
                                "SMTP_USERNAME": smtp.username,
                                "SMTP_PASSWORD": smtp.password, "SLACK_WEBHOOK_URL": slack.url})
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "notification given up" in shown.stdout and "channel=email" in shown.stdout
    assert "smtp 550" in shown.stdout
    assert "notification sent" in shown.stdout and "channel=slack" in shown.stdout


def test_messages_still_go_out_while_the_crm_refuses_our_token(
        box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
        notify_context: Callable[..., Context]) -> None:
    seed(box, 3, seed_value=10)
    ctx = notify_context(channels=("slack",))
    slack.fail_next(3, status=503)
    run_cycle(ctx)
    assert slack.messages == []
    box.app.token = "revoked"  # the CRM now answers 401
    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + timedelta(minutes=1)
    with pytest.raises(AuthError):
        run_cycle(ctx)
    assert len(slack.messages) == 3


def test_only_the_listed_events_are_sent(
        box: HubSpotSandbox, smtp: SmtpSink, slack: SlackReceiver, twilio: TwilioEmulator,
        notify_context: Callable[..., Context]) -> None:
    ids = seed(box, 2, seed_value=11)
    ctx = notify_context(channels=("slack",), events=("reassigned",), sla="2s",
                         single_pool=True)
    run_cycle(ctx)
    assert slack.messages == []  # assigned is not listed
    time.sleep(2.1)
    run_cycle(ctx)
    sent, _ = received(smtp, slack, twilio)
    assert sorted((crm_id, kind) for _, crm_id, kind, _ in sent) == sorted(
        (cid, "reassigned") for cid in ids)
