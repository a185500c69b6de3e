"""Prometheus metrics of one service instance, on a registry of its own (not the global one,
so tests can run several apps in one process). Counters are fed from the pipeline's result
dataclasses; CRM call counts and open leads per coordinator are read at scrape time.

Every lead and CRM figure carries the portal (the CRM connection, "default" today) next to
the CRM kind; the HTTP server's own figures (connections, errors, webhook requests) belong
to the process and carry none."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from state import DEFAULT_PORTAL, Store
from sync.apply import ApplyResult
from sync.ingest import IngestResult
from sync.notify.deliver import NotifyResult
from sync.route import RouteResult
from sync.sla_scan import SlaResult

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# lead created -> owner written: seconds, from "instantly" to "the next morning"
TIME_TO_OWNER_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 14400,
                         43200, 86400)


def call_stats(connector: Any) -> Any:
    """The connector's `CallStats` (calls / throttled per endpoint), wherever it keeps it:
    a `stats` attribute on the connector or on its `transport`; None when it has none."""
    stats = getattr(connector, "stats", None)
    if stats is None:
        stats = getattr(getattr(connector, "transport", None), "stats", None)
    return stats if hasattr(stats, "calls") else None


class CrmCallCollector(Collector):
    def __init__(self, connector: Any, crm: str, portal: str = DEFAULT_PORTAL) -> None:
        self.connector = connector
        self.crm = crm
        self.portal = portal

    def collect(self) -> Iterator[CounterMetricFamily]:
        calls = CounterMetricFamily("leadrouter_crm_api_calls", "CRM API calls by endpoint",
                                    labels=["crm", "portal", "endpoint"])
        limited = CounterMetricFamily("leadrouter_crm_api_throttled",
                                      "CRM API calls answered 429 by endpoint",
                                      labels=["crm", "portal", "endpoint"])
        stats = call_stats(self.connector)
        if stats is not None:
            lock = getattr(stats, "lock", None)
            if lock is not None:
                with lock:
                    counted, throttled = dict(stats.calls), dict(stats.throttled)
            else:
                counted, throttled = dict(stats.calls), dict(getattr(stats, "throttled", {}))
            for endpoint, n in sorted(counted.items()):
                calls.add_metric([self.crm, self.portal, endpoint], n)
                limited.add_metric([self.crm, self.portal, endpoint],
                                   throttled.get(endpoint, 0))
        yield calls
        yield limited


class OpenLeadsCollector(Collector):
    """Open (assigned, not yet contacted) leads per coordinator, from the store."""

    def __init__(self, store: Store, coordinators: list[str]) -> None:
        self.store = store
        self.coordinators = coordinators

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("leadrouter_open_leads",
                                  "Open (assigned, uncontacted) leads per coordinator",
                                  labels=["portal", "coordinator"])
        try:
            with self.store.unit_of_work(read_only=True) as uow:
                counts = uow.leads.open_counts()
        except Exception:  # a scrape must not fail because the store is busy
            counts = {}
        for ident in sorted(set(self.coordinators) | set(counts)):
            gauge.add_metric([self.store.portal, ident], counts.get(ident, 0))
        yield gauge


class _Together(Collector):
    """One family from several portals' collectors: each family once in the exposition."""

    def __init__(self, members: Callable[[], list[Collector]]) -> None:
        self.members = members

    def collect(self) -> Iterator[Any]:
        merged: dict[str, Any] = {}
        for member in self.members():
            for family in member.collect():
                if family.name in merged:
                    merged[family.name].samples.extend(family.samples)
                else:
                    merged[family.name] = family
        yield from merged.values()


class Metrics:
    def __init__(self, crm: str, portal: str = DEFAULT_PORTAL) -> None:
        self.crm = crm
        self.portal = portal
        self.registry = CollectorRegistry(auto_describe=True)
        # scrape-time collectors of every portal (shared by `for_portal` views)
        self._attached: list[tuple[Collector, Collector]] = []
        r = self.registry
        self.leads_seen = Counter("leadrouter_leads_seen", "New leads recorded (poll or "
                                  "webhook)", ["crm", "portal"], registry=r)
        self.leads_skipped = Counter("leadrouter_leads_skipped", "New leads not eligible "
                                     "(owned by a person or filtered out)", ["crm", "portal"],
                                     registry=r)
        self.leads_routed = Counter("leadrouter_leads_routed", "Leads given an owner",
                                    ["crm", "portal"], registry=r)
        self.leads_held = Counter("leadrouter_leads_held", "Leads held for the next shift",
                                  ["crm", "portal"], registry=r)
        self.leads_unroutable = Counter("leadrouter_leads_unroutable", "Routing attempts "
                                        "that found no owner (an unroutable lead is tried "
                                        "again)", ["crm", "portal"], registry=r)
        self.leads_set_aside = Counter("leadrouter_leads_set_aside", "Leads set aside: a "
                                       "record that could not be recorded or routed (see "
                                       "explain)", ["crm", "portal"], registry=r)
        self.leads_reevaluated = Counter("leadrouter_leads_reevaluated", "Skipped or set-aside "
                                         "leads routed after they changed", ["crm", "portal"],
                                         registry=r)
        self.leads_retried = Counter("leadrouter_leads_retried", "Unroutable leads tried "
                                     "again", ["crm", "portal"], registry=r)
        self.hints_outside_window = Counter("leadrouter_webhook_hints_outside_window",
                                            "Webhook hints for records created before the "
                                            "backfill window (not routed)", ["crm", "portal"],
                                            registry=r)
        self.owners_written = Counter("leadrouter_owners_written", "Owner writes done in the "
                                      "CRM", ["crm", "portal"], registry=r)
        self.tasks_created = Counter("leadrouter_tasks_created", "Follow-up tasks created",
                                     ["crm", "portal"], registry=r)
        self.overridden = Counter("leadrouter_leads_overridden", "Leads a person re-owned",
                                  ["crm", "portal"], registry=r)
        self.time_to_owner = Histogram("leadrouter_time_to_owner_seconds",
                                       "Lead created in the CRM -> first owner written",
                                       ["crm", "portal"], buckets=TIME_TO_OWNER_BUCKETS, registry=r)
        self.contacted = Counter("leadrouter_contact_attempts", "First contact attempts seen",
                                 ["crm", "portal", "within_sla"], registry=r)
        self.breaches = Counter("leadrouter_sla_breaches", "Leads past their response "
                                "deadline", ["crm", "portal"], registry=r)
        self.escalations = Counter("leadrouter_escalations", "Breached leads re-routed "
                                   "(reassigned) or handed to the final owner (final)",
                                   ["crm", "portal", "kind"], registry=r)
        self.webhooks = Counter("leadrouter_webhook_requests", "Webhook requests by outcome",
                                ["source", "outcome"], registry=r)
        self.webhook_events = Counter("leadrouter_webhook_events", "Webhook events stored in "
                                      "the inbox (new), recognised as duplicates, refused by "
                                      "the per-minute budget (rate_limited) or dropped for a "
                                      "record id that cannot exist (invalid_id)",
                                      ["source", "result"], registry=r)
        self.http_dropped = Counter("leadrouter_http_connections_dropped", "HTTP connections "
                                    "closed by the service: request head or body too slow "
                                    "(header_timeout, body_timeout), evicted or refused at "
                                    "the connection cap, unparseable (protocol_error)",
                                    ["reason"], registry=r)
        self.http_errors = Counter("leadrouter_http_errors", "Requests that failed in a way "
                                   "no handler expected (answered 500), by exception type",
                                   ["error_type"], registry=r)
        self.log_held = Counter("leadrouter_server_log_held", "HTTP server log lines held "
                                "back by the one-line-per-kind-per-minute limit",
                                ["source"], registry=r)
        self.job_runs = Counter("leadrouter_job_runs", "Worker steps run by outcome",
                                ["job", "outcome"], registry=r)
        self.notifications = Counter("leadrouter_notifications", "Notification sends by "
                                     "channel and outcome (sent, found: an uncertain send "
                                     "found delivered, retry, uncertain, failed: given up)",
                                     ["crm", "portal", "channel", "outcome"], registry=r)

    def attach(self, store: Store, connector: Any, coordinators: list[str]) -> None:
        """Scrape-time figures of this portal (once per portal: families are shared)."""
        calls = CrmCallCollector(connector, self.crm, self.portal)
        leads = OpenLeadsCollector(store, coordinators)
        if not self._attached:  # shared with every `for_portal` view
            self.registry.register(_Together(self._portals_of(0)))
            self.registry.register(_Together(self._portals_of(1)))
        self._attached.append((calls, leads))

    def _portals_of(self, index: int) -> Callable[[], list[Collector]]:
        return lambda: [pair[index] for pair in self._attached]

    def for_portal(self, crm: str, portal: str) -> Metrics:
        """The same registry and families, labelled for another portal of this process."""
        view = copy.copy(self)
        view.crm, view.portal = crm, portal
        return view

    def ingest(self, result: IngestResult) -> None:
        self.leads_seen.labels(self.crm, self.portal).inc(result.new)
        self.leads_skipped.labels(self.crm, self.portal).inc(result.skipped)
        self.leads_set_aside.labels(self.crm, self.portal).inc(result.set_aside)
        self.leads_reevaluated.labels(self.crm, self.portal).inc(result.reevaluated)
        self.hints_outside_window.labels(self.crm, self.portal).inc(result.outside_window)

    def routing(self, result: RouteResult) -> None:
        self.leads_routed.labels(self.crm, self.portal).inc(result.routed)
        self.leads_held.labels(self.crm, self.portal).inc(result.held)
        self.leads_unroutable.labels(self.crm, self.portal).inc(result.unroutable)
        self.leads_set_aside.labels(self.crm, self.portal).inc(result.set_aside)

    def retried(self, count: int) -> None:
        self.leads_retried.labels(self.crm, self.portal).inc(count)

    def apply(self, result: ApplyResult) -> None:
        self.owners_written.labels(self.crm, self.portal).inc(result.owners_written)
        self.tasks_created.labels(self.crm, self.portal).inc(result.tasks_created)
        self.overridden.labels(self.crm, self.portal).inc(result.overridden)
        for seconds in result.owner_latencies:
            self.time_to_owner.labels(self.crm, self.portal).observe(seconds)

    def sla(self, result: SlaResult) -> None:
        self.contacted.labels(self.crm, self.portal, "true").inc(result.within_sla)
        self.contacted.labels(self.crm, self.portal, "false").inc(
            result.contacted - result.within_sla)
        self.overridden.labels(self.crm, self.portal).inc(result.overridden)
        self.breaches.labels(self.crm, self.portal).inc(result.breached)
        self.escalations.labels(self.crm, self.portal, "reassigned").inc(result.reassigned)
        self.escalations.labels(self.crm, self.portal, "final").inc(result.escalated)

    def notified(self, result: NotifyResult) -> None:
        for channel, outcome in result.outcomes:
            self.notifications.labels(self.crm, self.portal, channel, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
