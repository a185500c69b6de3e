"""Salesforce REST API emulator over HTTPS on 127.0.0.1 (see ``SalesforceSandbox``).

Connecting the real client library (simple-salesforce 1.12, on requests)::

    with SalesforceSandbox() as sf_box:
        session = requests.Session()
        session.trust_env = False          # REQUIRED: see below
        session.verify = sf_box.ca_file
        sf = Salesforce(instance_url=sf_box.instance_url, session_id=sf_box.token,
                        session=session)   # version defaults to 59.0

Why ``trust_env = False``: with ``trust_env`` on, requests replaces a request's ``verify``
by ``$REQUESTS_CA_BUNDLE`` (set on these machines) *before* merging the session's
``verify``, so ``session.verify = ca_file`` alone is silently ignored and the handshake fails
with CERTIFICATE_VERIFY_FAILED. Turning ``trust_env`` off also ignores proxy variables and
``.netrc`` for that session (set ``session.proxies`` yourself if a proxy is needed). The
alternative is passing ``verify=ca_file`` on every request, which simple-salesforce does not do.

What the connector author must know (the emulator behaves like a real org here):

* Lead create/update without the header ``Sforce-Auto-Assign: FALSE`` runs the org's active
  assignment rule, which overwrites ``OwnerId`` with the queue
  ``SalesforceSandbox.assignment_rule_queue_id`` ("Lead Triage (Assignment Rule)").
  simple-salesforce: ``sf.Lead.update(id, data, headers={"Sforce-Auto-Assign": "FALSE"})``,
  ``sf.restful("composite/sobjects", method="PATCH", json=..., headers={...})``.
* Query paging: ``nextRecordsUrl`` is relative (``/services/data/v59.0/query/01g...-2000``);
  use ``sf.query_more(url, identifier_is_url=True)`` or ``sf.query_all_iter``. Batch size
  follows ``Sforce-Query-Options: batchSize=N`` clamped to 200..2000 (``min_batch_size`` can
  lower the floor in tests). Datetime filters take unquoted literals
  (``CreatedDate >= 2026-11-28T04:58:00Z``); a quoted or date-only value is a 400
  ``INVALID_FIELD``. Mixing AND/OR without parentheses is ``MALFORMED_QUERY``. Long text
  areas (``Description`` of Lead/Contact/Task) cannot be filtered or sorted (``INVALID_FIELD``,
  as in a real org): find a task's idempotency marker by ``WhoId``/``Subject`` and compare the
  description client-side, or put the marker in ``Subject``.
* Errors are JSON lists ``[{"message", "errorCode", "fields"?}]``; 401 ``INVALID_SESSION_ID``
  (``SalesforceExpiredSession``), 403 ``REQUEST_LIMIT_EXCEEDED`` past ``daily_limit``
  (``SalesforceRefusedRequest``). ``Sforce-Limit-Info: api-usage=n/N`` is on every response.
* Owners: a queue cannot own a Contact or Task; an inactive user cannot own anything
  (``INACTIVE_OWNER_OR_USER``). ``Owner.Type`` in SOQL is ``'User'`` or ``'Queue'``.
* Tokens: ``token`` is fixed (``rotate_token()`` replaces it). ``POST {instance_url}
  /services/oauth2/token`` serves client credentials (``oauth_client_id`` /
  ``oauth_client_secret``, form or HTTP Basic) and JWT bearer (``register_oauth_client(...,
  public_key_pem=...)``; ``aud`` login/test.salesforce.com or the instance URL). simple-
  salesforce's login helpers cannot target it (they append ``.salesforce.com``): post the form
  with the same session and pass ``access_token`` as ``session_id``. ``revoke_tokens()`` makes
  issued tokens answer 401.
* Faults (``sandbox.faults``): 500/502/503 without applying anything, latency, connection
  resets, and ambiguous writes (applied, answered 502).
"""

from sandbox.salesforce.emulator import SalesforceSandbox
from sandbox.salesforce.outbound import OUTBOUND_NS, Delivery, ack_response, parse_message
from sandbox.salesforce.schema import ApiError

__all__ = [
    "OUTBOUND_NS",
    "ApiError",
    "Delivery",
    "SalesforceSandbox",
    "ack_response",
    "parse_message",
]
