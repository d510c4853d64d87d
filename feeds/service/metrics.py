"""The daemon's Prometheus metrics, served at ``/metrics`` (``server.metrics``).

Every metric lives in the daemon's own `CollectorRegistry`, never the
library's global one, so tests and several daemons in one process do not
collide. The build stage knows nothing of them: `Rebuilds` records each
build from its `BuildReport`; the server is handed a `Metrics` as its
request recorder (`feeds.serve.server.RequestRecorder`) and never imports
this module.

Cardinality is bounded: no label takes a value from a seed or a request
path. Requests are counted by status class and by kind of file, both from
fixed lists, and every series exists from the start at zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from feeds.build.report import BuildReport
from feeds.formats import FORMATS
from feeds.plan.plans import ARCHIVE_DIR
from feeds.service.subscribers import Subscribers

#: The kinds of file a request is counted under.
KINDS = ("feed", "archive", "page", "opml", "other")
#: Status classes; anything outside 2xx-4xx counts as 5xx (uvicorn sends no 1xx).
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
#: The answers to a file's GET told apart: sent whole, or "not modified".
ANSWER_CODES = (200, 304)

_FEED_SUFFIXES = tuple(fmt.suffix for fmt in FORMATS)
_ARCHIVE_PREFIX = f"/{ARCHIVE_DIR}/"
# Seconds: a no-op rebuild takes milliseconds, a first build of 100k articles a minute.
_BUILD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def kind_of(path: str) -> str:
    """The kind of file a request path names, one of `KINDS`."""
    if path.endswith(_FEED_SUFFIXES):
        return "archive" if path.startswith(_ARCHIVE_PREFIX) else "feed"
    if path.endswith((".html", "/")):
        return "page"
    if path.endswith(".opml"):
        return "opml"
    return "other"


def status_class(status: int) -> str:
    return STATUS_CLASSES[min(max(status // 100, 2), 5) - 2]


class _SubscriberGauge(Collector):
    """``feeds_subscribers{feed,service}``, read from `Subscribers` at each
    scrape: its labels are the feeds served (main documents only) and the
    services, at most `feeds.service.subscribers.MAX_PAIRS` pairs."""

    def __init__(self, subscribers: Subscribers) -> None:
        self._subscribers = subscribers

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "feeds_subscribers",
            "Subscribers that readers report in their User-Agent, by feed and service.",
            labels=["feed", "service"],
        )
        for total in self._subscribers.totals():
            family.add_metric([total.feed, total.service], total.subscribers)
        yield family


#: What a publish target's gauges read at each scrape: its url, seconds its
#: oldest unpushed change has waited, objects left to push, and when its last
#: push succeeded (Unix time, 0 before one).
PublishGauges = tuple[str, float, int, float]
#: What a push did to an object, a label of ``feeds_publish_objects_total``.
PUSH_ACTIONS = ("uploaded", "deleted")


class _PublishGauge(Collector):
    """``feeds_publish_lag_seconds``, ``feeds_publish_pending_objects`` and
    ``feeds_publish_last_success_timestamp_seconds`` by target, read at each
    scrape (the lag grows by itself); labels are the config's target urls."""

    def __init__(self) -> None:
        self.source: Callable[[], Iterable[PublishGauges]] = tuple

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "feeds_publish_lag_seconds",
            "Seconds the oldest output change not yet pushed has waited, by target.",
            labels=["target"],
        )
        pending = GaugeMetricFamily(
            "feeds_publish_pending_objects",
            "Uploads and deletions left as last planned, by target.",
            labels=["target"],
        )
        last = GaugeMetricFamily(
            "feeds_publish_last_success_timestamp_seconds",
            "When the last successful push ended (Unix time), by target.",
            labels=["target"],
        )
        for target, seconds, objects, success in self.source():
            lag.add_metric([target], seconds)
            pending.add_metric([target], objects)
            last.add_metric([target], success)
        yield from (lag, pending, last)


class Metrics:
    """The daemon's metrics; what the server records goes through `answered`."""

    def __init__(self, subscribers: Subscribers | None = None) -> None:
        self.registry = registry = CollectorRegistry()
        self._build_metrics(registry)
        self._service_metrics(registry)
        #: Subscriber counts: label values only from the feeds served and
        #: the services' names, never a raw User-Agent.
        self.subscribers = subscribers if subscribers is not None else Subscribers()
        registry.register(_SubscriberGauge(self.subscribers))
        self._publish_metrics(registry)
        # Every series made now, at zero; the request path then looks its
        # counters up in plain dicts, without the library's label lock.
        for result in ("ok", "failed"):
            self.builds.labels(result)
        for state in ("visible", "embargoed", "rejected"):
            self.articles.labels(state)
        self._requests = {
            (status, kind): self.requests.labels(status, kind)
            for status in STATUS_CLASSES
            for kind in KINDS
        }
        self._sent = {kind: self.sent.labels(kind) for kind in KINDS}
        self._answers = {code: self.answers.labels(str(code)) for code in ANSWER_CODES}

    def _build_metrics(self, registry: CollectorRegistry) -> None:
        self.builds = Counter(
            "feeds_builds", "Rebuilds ended, by result.", ["result"], registry=registry
        )
        self.build_seconds = Histogram(
            "feeds_build_seconds",
            "How long each rebuild that published took.",
            buckets=_BUILD_BUCKETS,
            registry=registry,
        )
        self.articles = Gauge(
            "feeds_articles", "Articles at the last build, by state.", ["state"], registry=registry
        )
        self.feeds = Gauge("feeds_feeds", "Feeds at the last build.", registry=registry)
        self.warnings = Gauge(
            "feeds_warnings", "Fields dropped from articles at the last build.", registry=registry
        )
        self.written = Counter(
            "feeds_files_written", "Files written to the output folder.", registry=registry
        )
        self.rendered = Counter(
            "feeds_documents_rendered",
            "Documents rendered: those whose inputs changed since written, and the "
            "index and OPML at each publish (rendered is not written: same bytes are not).",
            registry=registry,
        )
        self.removed = Counter(
            "feeds_files_removed", "Stale files removed from the output folder.", registry=registry
        )
        self.last_publish = Gauge(
            "feeds_last_publish_timestamp_seconds",
            "When the last successful publish ended (Unix time).",
            registry=registry,
        )
        self.last_failure = Gauge(
            "feeds_last_failed_publish_timestamp_seconds",
            "When the last failed publish ended (Unix time).",
            registry=registry,
        )

    def _service_metrics(self, registry: CollectorRegistry) -> None:
        # --- the watcher
        self.watcher_restarts = Counter(
            "feeds_watcher_restarts", "Watchers started again after stopping.", registry=registry
        )
        self.rescans = Counter(
            "feeds_rescans", "Rebuilds that rescanned the whole seeds folder.", registry=registry
        )
        # --- HTTP
        self.requests = Counter(
            "feeds_http_requests",
            "HTTP requests answered, by status class and kind of file.",
            ["status", "kind"],
            registry=registry,
        )
        self.sent = Counter(
            "feeds_http_sent_bytes",
            "Body bytes sent, by kind of file.",
            ["kind"],
            registry=registry,
        )
        self.answers = Counter(
            "feeds_http_answers",
            "Answers sent whole (200) or not modified (304).",
            ["code"],
            registry=registry,
        )

    def _publish_metrics(self, registry: CollectorRegistry) -> None:
        self.publish_objects = Counter(
            "feeds_publish_objects",
            "Objects a push uploaded or deleted, by target.",
            ["target", "action"],
            registry=registry,
        )
        self.publish_bytes = Counter(
            "feeds_publish_bytes", "Bytes uploaded, by target.", ["target"], registry=registry
        )
        self.publish_failures = Counter(
            "feeds_publish_failures",
            "Pushes that failed, by target.",
            ["target"],
            registry=registry,
        )
        self._publish_gauge = _PublishGauge()
        registry.register(self._publish_gauge)

    # --- publish targets -------------------------------------------------

    def watch_publishing(self, source: Callable[[], Iterable[PublishGauges]]) -> None:
        """Reads the targets' gauges from ``source`` at each scrape."""
        self._publish_gauge.source = source

    def publish_target(self, target: str) -> None:
        """Makes a target's counters, at zero (``target``: a config's url)."""
        for action in PUSH_ACTIONS:
            self.publish_objects.labels(target, action)
        self.publish_bytes.labels(target)
        self.publish_failures.labels(target)

    def pushed(self, target: str, uploaded: int, deleted: int, size: int) -> None:
        """What one push stored, even one cut short."""
        self.publish_objects.labels(target, "uploaded").inc(uploaded)
        self.publish_objects.labels(target, "deleted").inc(deleted)
        self.publish_bytes.labels(target).inc(size)

    def push_failed(self, target: str) -> None:
        self.publish_failures.labels(target).inc()

    # --- builds ----------------------------------------------------------

    def published(self, report: BuildReport) -> None:
        """A rebuild that wrote what it had to (or a start whose output the
        parse cache proved current: the last publish's counts, nothing written)."""
        self.builds.labels("ok").inc()
        self.build_seconds.observe(report.seconds)
        self.loaded(report)
        self.written.inc(len(report.written))
        self.rendered.inc(report.rendered)
        self.removed.inc(len(report.removed))
        self.last_publish.set(time.time())

    def loaded(self, report: BuildReport) -> None:
        """The counts of the output as it is: after each publish, and once
        the state of a proven start is loaded (its embargoed count, known then)."""
        self.articles.labels("visible").set(report.articles)
        self.articles.labels("embargoed").set(report.embargoed)
        self.articles.labels("rejected").set(len(report.rejected))
        self.feeds.set(report.feeds)
        self.warnings.set(len(report.warnings))

    def failed(self) -> None:
        """A rebuild whose publish failed (the last good files stay)."""
        self.builds.labels("failed").inc()
        self.last_failure.set(time.time())

    def rescanned(self) -> None:
        self.rescans.inc()

    def watcher_restarted(self) -> None:
        self.watcher_restarts.inc()

    # --- HTTP (feeds.serve.server.RequestRecorder) -------------------------

    def answered(self, path: str, status: int, sent: int, user_agent: bytes = b"") -> None:
        """One request answered: counters only, on the server's event loop."""
        if b"subscriber" in user_agent:
            self.subscribers.heard(path, status, user_agent)
        kind = kind_of(path)
        self._requests[status_class(status), kind].inc()
        if sent:
            self._sent[kind].inc(sent)
        answer = self._answers.get(status)
        if answer is not None:
            answer.inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text of ``/metrics`` and its media type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
