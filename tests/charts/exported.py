"""The Prometheus sample names the platform's services export, from their own registries
(gateway, transformer, drift job): what alerts, dashboards and the docs may name."""

from __future__ import annotations

from functools import cache


def service_registries():
    """The gateway's and the transformer's Prometheus registries, every metric registered (the
    gateway's inference-log counters read from an idle logger's statistics)."""
    from spam_gateway.app.metrics import Metrics
    from spam_transformer.metrics import TransformerMetrics

    gateway = Metrics()
    gateway.observe_request("/predict", "POST", 500, "staging", "1", 0.01)
    gateway.predictions.labels("staging", "1", "spam").inc()
    gateway.upstream_errors.labels("staging", "unavailable").inc()
    stats = dict.fromkeys(
        [
            "records_logged",
            "records_written",
            "records_spooled",
            "records_dropped",
            "write_failures",
            "records_buffered",
            "records_in_spool",
        ],
        0,
    )
    gateway.register_inference_log(lambda: stats)
    from spam_gateway.app.shadow import ERROR_KINDS

    shadow = {
        **dict.fromkeys(["sampled", "dropped", "scored", "failed", "inflight", "pending"], 0),
        "errors": dict.fromkeys(ERROR_KINDS, 0),
        "log": stats,
    }
    gateway.register_shadow(lambda: shadow)
    return gateway.registry, TransformerMetrics().registry


@cache
def exported_metric_names() -> frozenset[str]:
    """Every sample name the gateway, transformer and drift job export (their registries)."""
    from datetime import UTC, datetime

    from spam_drift.analysis import SignalStats, SpamRate, Thresholds, VersionResult
    from spam_drift.metrics import build_registry
    from spam_drift.report import DriftReport

    score = SignalStats(
        name="spam_probability",
        kind="score",
        rows=1,
        null_fraction=0,
        psi=0.1,
        ks_statistic=0.1,
        reference_mean=0.5,
    )
    report = DriftReport(
        generated_at=datetime.now(UTC),
        environment="staging",
        window={},
        status="ok",
        drift_detected=True,
        reasons=[],
        rows=1,
        files_read=1,
        partitions_read=1,
        inference_log="x",
        thresholds=Thresholds(),
        versions=[
            VersionResult(
                model_name="m",
                model_version="1",
                status="ok",
                rows=1,
                drift_detected=True,
                drift_score=1.0,
                score=score,
                features=[score],
                spam_rate=SpamRate(current=1, reference=0, delta=1, drifted=True),
            )
        ],
    )
    names = set()
    for registry in (*service_registries(), build_registry(report, 0)):
        for family in registry.collect():
            names |= {s.name for s in family.samples}
            # a labeled metric nothing observed yet has no samples: its names by type
            suffixes = {
                "counter": ("_total",),
                "histogram": ("_bucket", "_count", "_sum"),
                "summary": ("_count", "_sum"),
                "info": ("_info",),
            }.get(family.type, ("",))
            names |= {family.name + suffix for suffix in suffixes}
    return frozenset(names)
