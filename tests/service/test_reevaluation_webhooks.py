"""A skipped contact that becomes a lead is routed from the property-change webhook, in
seconds, while polling sleeps; changes of other properties cost nothing."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.hubspot import HubSpotSandbox
from tests.service.conftest import ServiceProcess, owner_of, wait_for

LEADS_ONLY = '[crm.hubspot.filters]\nlifecyclestage = ["lead"]'


def test_a_contact_made_a_lead_after_creation_is_routed_from_the_webhook(
        box: HubSpotSandbox, service_factory: Callable[..., ServiceProcess]) -> None:
    svc = service_factory(poll="10m", extra_hubspot=LEADS_ONLY)
    box.subscribe_webhooks(svc.webhook_url, svc.secret,
                           properties=("lifecyclestage", "hs_lead_status"), interval=0.02)
    svc.start()
    cid = box.create_contact({"insurance_type": "commercial", "state": "CA", "zip": "91101",
                              "hs_analytics_source": "PAID_SEARCH"})
    skipped = "leadrouter_leads_skipped_total{crm=hubspot,portal=default}"
    assert wait_for(lambda: svc.metrics().get(skipped) == 1, 5.0)
    box.set_lead_status(cid, "OPEN")  # not an eligibility property: acknowledged, ignored
    box.update_contact(cid, {"lifecyclestage": "lead"})  # a workflow, seconds later
    assert wait_for(lambda: owner_of(box, cid), 5.0)
    assert wait_for(lambda: len(box.tasks_for(cid)) == 1, 5.0)
    m = svc.metrics()
    assert m["leadrouter_webhook_events_total{result=new,source=hubspot}"] == 2
