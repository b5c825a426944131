"""Prometheus metrics of the transformer, in a registry of its own (one per app instance).

Label values are bounded: ``environment`` is a track name, ``status`` an HTTP status code,
``reason`` an error code from :mod:`spam_transformer.errors`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# request latency: the transformer itself is sub-millisecond; Triton adds ~1 ms per call
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 100, 256)


class TransformerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "spam_transformer_requests",
            "Prediction requests answered, by model track and HTTP status.",
            ["environment", "status"],
            registry=r,
        )
        self.request_latency = Histogram(
            "spam_transformer_request_latency_seconds",
            "Time to answer a prediction request (parse, features, Triton, response).",
            ["environment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.emails = Counter(
            "spam_transformer_emails",
            "E-mails scored, by model track and predicted label.",
            ["environment", "prediction"],
            registry=r,
        )
        self.reputation_lookups = Counter(
            "spam_transformer_reputation_lookups",
            "Sender / domain reputation entities by outcome: hit (cache), miss (asked the "
            "store), error (store failed: defaults), skipped (store down: defaults).",
            ["outcome"],
            registry=r,
        )
        self.reputation_store_up = Gauge(
            "spam_transformer_reputation_store_up",
            "1 while the Feast online store answers, 0 while reputation falls back to defaults.",
            registry=r,
        )
        self.batch_size = Histogram(
            "spam_transformer_batch_size",
            "E-mails per prediction request.",
            ["environment"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.preprocess_latency = Histogram(
            "spam_transformer_preprocess_latency_seconds",
            "Parsing and feature extraction time per request (spam_core).",
            ["environment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.triton_latency = Histogram(
            "spam_transformer_triton_latency_seconds",
            "Duration of one Triton inference call (one per request), successful or not.",
            ["environment", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.triton_errors = Counter(
            "spam_transformer_triton_errors",
            "Failed Triton calls, by model track and reason.",
            ["environment", "reason"],
            registry=r,
        )
        self.model_info = Gauge(
            "spam_transformer_model_info",
            "The model each track serves (value 1).",
            ["environment", "model_name", "model_version", "triton_model"],
            registry=r,
        )
