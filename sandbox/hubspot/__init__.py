"""HubSpot CRM emulator (HTTPS on loopback) for tests, benchmarks and the demo.

Pointing hubspot-api-client 12 at it (what really works)::

    from urllib3.util.retry import Retry
    import hubspot

    box = HubSpotSandbox().start()
    box.seed_demo()
    client = hubspot.Client.create(
        access_token=box.token,
        host=box.base_url,            # copied onto Configuration.host
        ssl_ca_cert=box.ca_file,      # any extra kwarg is setattr'd on Configuration
        retry=Retry(total=0, raise_on_status=False),  # -> Configuration.retries
    )

``hubspot.Client`` has no ``api_client`` attribute: every ``client.crm.<...>.<x>_api``
access builds a fresh ``Configuration``/``ApiClient`` from the kwargs given to ``create``, so
the CA and host must be passed there (or via ``api_factory``). Keep the ``*_api`` object to
reuse its urllib3 pool. Without ``retry``, urllib3's default ``Retry(3)`` silently re-sends a
GET/PUT/DELETE answered 429/503 with ``Retry-After`` (sleeping for it); POST/PATCH are never
re-sent.

What the emulator answers (see the modules for details): CRM v3 contacts/tasks/calls/emails/
notes (create, get, patch, archive, list, search, batch read/update/create/archive), owners,
v4 associations; bearer-token auth (401 ``INVALID_AUTHENTICATION``); bodies validated against
the OpenAPI documents (400 ``VALIDATION_ERROR``); 10-second/search/daily limits with
``X-HubSpot-RateLimit-*`` headers and 429 ``RATE_LIMIT`` bodies with ``Retry-After``; faults
from ``sandbox._server.Faults`` and, per endpoint, ``box.route_faults`` (``RouteFault``: slow
before or after handling, or an error instead); a search index lag per object type
(``box.set_index_lag(8.0, "tasks")``: search trails writes, reads by id and the associations
API do not). Error statuses surface in the client as ``ApiException``
(``.status``, ``.headers``, ``.body``); a connection reset surfaces as a urllib3
``ProtocolError`` (not an ``ApiException``). Batch calls with unknown ids answer 207 and
return a ``...WithErrors`` model instead of raising.
"""

from .app import RouteFault
from .emitter import WebhookEmitter
from .sandbox import HubSpotSandbox
from .webhooks import WebhookSender, contact_creation, property_change, sign_v3

__all__ = ["HubSpotSandbox", "RouteFault", "WebhookEmitter", "WebhookSender",
           "contact_creation", "property_change", "sign_v3"]
