"""Shared fixtures of the sandbox tests (HubSpot ones are named ``hubspot_*``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import hubspot
import pytest
from urllib3.util.retry import Retry

from sandbox.hubspot import HubSpotSandbox

HubSpotClientFactory = Callable[..., hubspot.Client]


def hubspot_client_for(box: HubSpotSandbox, *, token: str | None = None) -> hubspot.Client:
    """A real hubspot-api-client 12 pointed at the sandbox (CA via ssl_ca_cert, no retries)."""
    return hubspot.Client.create(
        access_token=token or box.token,
        host=box.base_url,
        ssl_ca_cert=box.ca_file,
        # urllib3's default Retry(3) would silently re-send a GET answered 429/503 with
        # Retry-After; the tests want to see every answer.
        retry=Retry(total=0, raise_on_status=False),
    )


@pytest.fixture
def hubspot_box() -> Iterator[HubSpotSandbox]:
    """A running sandbox with the demo owners and no contacts."""
    with HubSpotSandbox() as box:
        box.seed_demo()
        yield box


@pytest.fixture
def hubspot_client(hubspot_box: HubSpotSandbox) -> hubspot.Client:
    return hubspot_client_for(hubspot_box)


@pytest.fixture
def hubspot_client_factory() -> HubSpotClientFactory:
    """``factory(box, token=None)`` for tests that build their own sandbox."""
    return hubspot_client_for
