"""Drift results as Prometheus metrics, pushed to a Pushgateway (a CronJob is gone before
Prometheus could scrape it).

Grouping key ``job="spam-drift", environment=<env>``: each run replaces the previous run's
metrics of its environment. Metrics (labels ``environment``, and ``model_name``,
``model_version`` where per version):

* ``spam_drift_last_run_timestamp_seconds`` — end of the last run (alert when stale)
* ``spam_drift_window_rows`` — rows of the window
* ``spam_drift_detected`` — 1 drift, 0 none, per version with a verdict
* ``spam_drift_score`` — aggregate drift score (share of drifted signals, 0..1)
* ``spam_drift_version_rows`` — rows per version
* ``spam_drift_verdict`` — 1 when the version got a verdict, 0 not enough data / no baseline
* ``spam_drift_feature_psi`` / ``spam_drift_feature_ks_statistic`` — per ``feature``
  (the score as ``feature="spam_probability"``)
* ``spam_drift_predicted_spam_rate`` / ``spam_drift_reference_spam_rate``
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from spam_drift.report import DriftReport

JOB = "spam-drift"


def build_registry(report: DriftReport, finished_at: float) -> CollectorRegistry:
    registry = CollectorRegistry()
    env = ["environment"]
    per_version = ["environment", "model_name", "model_version"]
    per_feature = [*per_version, "feature"]

    def gauge(name: str, doc: str, labels: list[str]) -> Gauge:
        return Gauge(name, doc, labels, registry=registry)

    last = gauge("spam_drift_last_run_timestamp_seconds", "End of the last drift run.", env)
    rows = gauge("spam_drift_window_rows", "Inference-log rows of the window.", env)
    detected = gauge("spam_drift_detected", "1 when drift was detected.", per_version)
    score = gauge("spam_drift_score", "Aggregate drift score (0..1).", per_version)
    vrows = gauge("spam_drift_version_rows", "Rows of the window per version.", per_version)
    verdict = gauge("spam_drift_verdict", "1 when the version got a verdict.", per_version)
    psi = gauge("spam_drift_feature_psi", "PSI per feature.", per_feature)
    ks = gauge("spam_drift_feature_ks_statistic", "KS statistic per feature.", per_feature)
    rate = gauge("spam_drift_predicted_spam_rate", "Predicted spam rate.", per_version)
    ref_rate = gauge(
        "spam_drift_reference_spam_rate", "Predicted spam rate of the baseline.", per_version
    )

    e = report.environment
    last.labels(e).set(finished_at)
    rows.labels(e).set(report.rows)
    for v in report.versions:
        key = (e, v.model_name, v.model_version)
        vrows.labels(*key).set(v.rows)
        verdict.labels(*key).set(1 if v.status == "ok" else 0)
        if v.status != "ok":
            continue
        detected.labels(*key).set(1 if v.drift_detected else 0)
        score.labels(*key).set(v.drift_score or 0.0)
        for s in [*v.features, *([v.score] if v.score else [])]:
            if s.psi is not None:
                psi.labels(*key, s.name).set(s.psi)
            if s.ks_statistic is not None:
                ks.labels(*key, s.name).set(s.ks_statistic)
        if v.spam_rate is not None:
            rate.labels(*key).set(v.spam_rate.current)
            ref_rate.labels(*key).set(v.spam_rate.reference)
    return registry


def push(url: str, report: DriftReport, finished_at: float, timeout_s: float = 10.0) -> None:
    push_to_gateway(
        url,
        job=JOB,
        registry=build_registry(report, finished_at),
        grouping_key={"environment": report.environment},
        timeout=timeout_s,
    )
