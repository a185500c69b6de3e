"""HubSpot signature v3 as HubSpot computes it (the SDK's helper), including URI decoding."""

from __future__ import annotations

import time

import pytest
from hubspot.utils.signature import Signature

from connectors.hubspot.webhooks import verify_hubspot
from connectors.webhooks import WebhookRejected

SECRET = "client-secret-for-tests"
BODY = b'[{"objectId": 101, "subscriptionType": "contact.creation", "occurredAt": 1}]'


def signed(uri: str, timestamp: str) -> str:
    return str(Signature.get_signature(SECRET, BODY.decode(), "v3", uri, "POST", timestamp))


def test_a_signature_over_the_decoded_uri_verifies_against_the_encoded_request_uri() -> None:
    now = int(time.time() * 1000)
    encoded = "https://leads.example.org/webhooks/hubspot?portal=1%3A2%2C3"
    decoded = "https://leads.example.org/webhooks/hubspot?portal=1:2,3"
    verify_hubspot(SECRET, "POST", encoded, BODY, signed(decoded, str(now)), str(now), now)


@pytest.mark.parametrize(("offset_ms", "outcome"), [(-301_000, "stale"), (301_000, "future")])
def test_timestamps_outside_five_minutes_either_way_are_refused(offset_ms: int,
                                                                outcome: str) -> None:
    now = int(time.time() * 1000)
    stamp = str(now + offset_ms)
    uri = "https://leads.example.org/webhooks/hubspot"
    with pytest.raises(WebhookRejected) as refused:
        verify_hubspot(SECRET, "POST", uri, BODY, signed(uri, stamp), stamp, now)
    assert refused.value.outcome == outcome


def test_a_changed_body_breaks_the_signature() -> None:
    now = int(time.time() * 1000)
    uri = "https://leads.example.org/webhooks/hubspot"
    with pytest.raises(WebhookRejected) as refused:
        verify_hubspot(SECRET, "POST", uri, BODY + b" ", signed(uri, str(now)), str(now), now)
    assert refused.value.outcome == "bad_signature"
