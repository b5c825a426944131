"""Prometheus metrics of one gateway application (its own registry, served at GET /metrics)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 100)


class Metrics:
    """Request counts and latency per route/environment/model version, upstream calls and
    errors, predictions; the inference log's counters are read from it at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("route", "method", "status", "environment", "model_version")
        self.requests = Counter(
            "spam_gateway_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "spam_gateway_request_duration_seconds",
            "Time from request start to response start.",
            ("route", "method", "environment", "model_version"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "spam_gateway_predictions",
            "E-mails scored (single and batch-sync).",
            ("environment", "model_version", "prediction"),
            registry=self.registry,
        )
        self.batch_item_errors = Counter(
            "spam_gateway_batch_item_errors",
            "E-mails of batch-sync requests answered with an error instead of a prediction: "
            "reason validation (not a valid e-mail) or refused (the transformer could not "
            "parse it).",
            ("environment", "reason"),
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "spam_gateway_upstream_duration_seconds",
            "Duration of one transformer call.",
            ("environment",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_batch = Histogram(
            "spam_gateway_upstream_batch_size",
            "E-mails per transformer call (single predictions merged while calls run).",
            ("environment",),
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "spam_gateway_upstream_errors",
            "Failed transformer calls by kind (connect, timeout, unavailable = transformer or "
            "Triton down, invalid_input, bad_response).",
            ("environment", "kind"),
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "spam_gateway_auth_failures",
            "Requests refused for a missing or unknown API key (401).",
            registry=self.registry,
        )
        self.throttled = Counter(
            "spam_gateway_throttled",
            "Requests refused with 429: reason auth (failed-authentication budget of the "
            "client spent) or quota (the key's request quota spent).",
            ("reason",),
            registry=self.registry,
        )
        self._log_collector: _InferenceLogCollector | None = None
        self._shadow_collector: _ShadowCollector | None = None
        self._request_children: dict[tuple[str, ...], tuple[Any, Any]] = {}

    def observe_request(
        self,
        route: str,
        method: str,
        status: int,
        environment: str,
        model_version: str,
        seconds: float,
    ) -> None:
        key = (route, method, str(status), environment, model_version)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(*key),
                self.latency.labels(route, method, environment, model_version),
            )
            if len(self._request_children) < 10_000:
                self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def register_inference_log(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.unregister_inference_log()
        self._log_collector = _InferenceLogCollector(stats)
        self.registry.register(self._log_collector)

    def unregister_inference_log(self) -> None:
        if self._log_collector is not None:
            self.registry.unregister(self._log_collector)
            self._log_collector = None

    def register_shadow(self, stats: Callable[[], dict[str, Any]]) -> None:
        """The shadow scorer's counters (app/shadow.py) and its log's, read at scrape time."""
        self.unregister_shadow()
        self._shadow_collector = _ShadowCollector(stats)
        self.registry.register(self._shadow_collector)

    def unregister_shadow(self) -> None:
        if self._shadow_collector is not None:
            self.registry.unregister(self._shadow_collector)
            self._shadow_collector = None


class _InferenceLogCollector(Collector):
    """The inference logger's counters, read when Prometheus scrapes (nothing on the hot path)."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield from log_families(self._stats(), "spam_gateway_inference_log", "Predictions")


def log_families(
    s: dict[str, Any], prefix: str, what: str
) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
    """The counters of one log writer (``InferenceLogger.stats``) as ``<prefix>_*`` families;
    ``what`` names the records it is handed."""
    for name, doc in (
        ("records_logged", f"{what} handed to the log."),
        ("records_written", "Records written to the log's store."),
        ("records_spooled", "Records spooled to local disk because the store failed."),
        ("records_dropped", "Records lost (store and spool failed, memory cap reached)."),
        ("write_failures", "Failed store writes (each spools its records)."),
    ):
        yield CounterMetricFamily(f"{prefix}_{name}", doc, value=s[name])
    for name, doc in (
        ("records_buffered", "Records in memory waiting for the next flush."),
        ("records_in_spool", "Records on local disk waiting for a retry."),
    ):
        yield GaugeMetricFamily(f"{prefix}_{name}", doc, value=s[name])


class _ShadowCollector(Collector):
    """Shadow scoring (app/shadow.py): e-mails sampled, dropped over the bound, scored by the
    staging model, failed; failed calls by kind; calls running and e-mails waiting; its log."""

    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self._stats()
        for name, doc in (
            ("sampled", "Production e-mails picked for shadow scoring by the staging model."),
            ("dropped", "Sampled e-mails dropped: more were waiting than the bound allows."),
            ("scored", "Sampled e-mails the staging model scored (rows of the shadow log)."),
            ("failed", "Sampled e-mails whose staging call failed."),
        ):
            yield CounterMetricFamily(f"spam_gateway_shadow_{name}", doc, value=s[name])
        errors = CounterMetricFamily(
            "spam_gateway_shadow_errors",
            "Failed shadow calls by kind (timeout, unavailable, invalid_input, error).",
            labels=("kind",),
        )
        for kind, n in s["errors"].items():
            errors.add_metric((kind,), n)
        yield errors
        yield GaugeMetricFamily(
            "spam_gateway_shadow_inflight", "Shadow calls running.", value=s["inflight"]
        )
        yield GaugeMetricFamily(
            "spam_gateway_shadow_pending", "Sampled e-mails waiting for a call.", value=s["pending"]
        )
        yield from log_families(s["log"], "spam_gateway_shadow_log", "Shadow rows")
