"""Message text and the notification counter."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.notify.deliver import NotifyResult
from sync.notify.messages import ref_of, render
from sync.service.metrics import Metrics


def test_the_deadline_is_shown_in_the_coordinators_time_zone() -> None:
    due = datetime(2026, 7, 1, 18, 5, tzinfo=UTC)
    text = render("escalated", "10001", "medicaid", due, "https://crm.example/c/10001",
                  "America/Phoenix", "abc").text
    assert text.splitlines() == ["Lead escalated to you: lead 10001", "Rule: medicaid",
                                 "Respond by: 2026-07-01 11:05 MST",
                                 "Record: https://crm.example/c/10001", "ref abc"]


def test_the_marker_is_stable_and_differs_per_key() -> None:
    key = "lead/1/v1/notify/assigned/sms"
    assert ref_of(key) == ref_of(key) != ref_of("lead/1/v2/notify/assigned/sms")


def test_outcomes_are_counted_by_channel() -> None:
    metrics = Metrics("hubspot")
    metrics.notified(NotifyResult(outcomes=[("sms", "sent"), ("sms", "sent"),
                                            ("email", "failed")]))
    page = metrics.render().decode()
    assert ('leadrouter_notifications_total{channel="sms",crm="hubspot",outcome="sent",'
            'portal="default"} 2.0') in page
    assert ('leadrouter_notifications_total{channel="email",crm="hubspot",outcome="failed",'
            'portal="default"} 1.0') in page
