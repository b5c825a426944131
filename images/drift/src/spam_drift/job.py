"""The drift job as one library call: :func:`run_drift` (what ``spam-drift``,
``spam-platform drift`` and a scheduler on an interval call).

1. read the environment's inference log for the window (only its partitions);
2. per (model name, model version) logged: that version's baseline, the analysis
   (``spam_drift.analysis``);
3. write the JSON report and one Evidently HTML per analysed version to the reports location;
4. alert (webhook, de-duplicated) and push metrics (Pushgateway) when configured.

Bad input raises :class:`~spam_drift.errors.DriftInputError` (exit 2) with a one-line
message. A version without a baseline does not stop the others: its entry says
``no_baseline``, the report's status is ``incomplete``, and the CLI exits 2 after writing it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pyarrow.compute as pc
import structlog
from pydantic import BaseModel, ConfigDict, Field

from spam_core.features.spec import NAMED_FEATURES
from spam_core.scoring import Track
from spam_drift.alert import Alerter
from spam_drift.analysis import Thresholds, VersionResult, analyse_version
from spam_drift.baselines import DEFAULT_MODEL_REF_TEMPLATE, BaselineResolver
from spam_drift.errors import DriftError, DriftInputError, DriftOutputError
from spam_drift.logread import read_window
from spam_drift.report import DriftReport, report_stem, write_json
from spam_drift.storage import open_location
from spam_drift.window import Window

log = structlog.get_logger("spam_drift")


class DriftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    inference_log: str = Field(description="Inference-log root: a directory or abfs:// URL.")
    reports: str = Field(description="Drift-reports location: a directory or abfs:// URL.")
    environment: Track
    window: Window
    baselines: dict[str, str] = Field(default_factory=dict, description="version -> path")
    model_ref_template: str = DEFAULT_MODEL_REF_TEMPLATE
    cache_dir: Path | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    connection_string: str | None = None
    html: bool = True
    html_sample_rows: int = Field(5000, ge=100)
    webhook_url: str | None = None
    webhook_format: Literal["json", "slack"] = "json"
    alert_reminder: timedelta = timedelta(hours=24)
    alert_attempts: int = Field(4, ge=1)
    alert_backoff_s: float = Field(1.0, ge=0)
    pushgateway_url: str | None = None


def local_config(
    environment: Track,
    window: Window,
    *,
    home: Path | None = None,
    **overrides: object,
) -> DriftConfig:
    """A run over the local platform's state: ``$SPAM_HOME/inference-logs`` in,
    ``$SPAM_HOME/drift-reports`` out (the CLI's defaults). A scheduler calls, every interval,
    ``run_drift(local_config(env, Window.resolve(since="1h")))``."""
    from spam_core.settings import DRIFT_REPORTS_DIR, INFERENCE_LOGS_DIR, get_settings

    if home is None:
        home = get_settings().home
    values: dict[str, object] = {
        "inference_log": str(home / INFERENCE_LOGS_DIR),
        "reports": str(home / DRIFT_REPORTS_DIR),
        "environment": environment,
        "window": window,
        **overrides,
    }
    return DriftConfig.model_validate(values)


def _groups(table) -> list[tuple[str, str]]:
    if table.num_rows == 0:
        return []
    pairs = (
        table.select(["model_name", "model_version"])
        .group_by(["model_name", "model_version"])
        .aggregate([])
    )
    return sorted(
        (name or "unknown", version or "unknown")
        for name, version in zip(
            pairs.column("model_name").to_pylist(),
            pairs.column("model_version").to_pylist(),
            strict=True,
        )
    )


def _rows_of(table, name: str, version: str):
    mask = pc.and_(
        pc.equal(pc.fill_null(table.column("model_name"), "unknown"), name),
        pc.equal(pc.fill_null(table.column("model_version"), "unknown"), version),
    )
    return table.filter(mask)


def run_drift(config: DriftConfig, now: datetime | None = None) -> DriftReport:
    """Run once; returns the report (written, alerted, pushed as configured)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    features = list(NAMED_FEATURES)
    source = open_location(config.inference_log, connection_string=config.connection_string)
    try:
        data = read_window(source, config.environment, config.window, features)
    except DriftError:
        raise
    except OSError as exc:
        raise DriftInputError(
            f"cannot read the inference log at {config.inference_log}: {exc}"
        ) from None
    table = data.table
    resolver = BaselineResolver(
        config.baselines, model_ref_template=config.model_ref_template, cache_dir=config.cache_dir
    )

    versions: list[VersionResult] = []
    version_tables = {}
    for name, version in _groups(table):
        rows = _rows_of(table, name, version)
        try:
            baseline = resolver.get(name, version)
        except DriftInputError as exc:
            versions.append(
                VersionResult(
                    model_name=name,
                    model_version=version,
                    status="no_baseline",
                    message=str(exc),
                    rows=rows.num_rows,
                )
            )
            log.error("drift.no_baseline", model_version=version, error=str(exc))
            continue
        result = analyse_version(rows, name, version, baseline, features, config.thresholds)
        versions.append(result)
        if result.status == "ok":
            version_tables[(name, version)] = (rows, baseline)

    if table.num_rows == 0:
        status = "no_data"
        reasons = [
            f"no inference-log rows for {config.environment} in the window"
            + ("" if data.files else " (no log files in its partitions)")
        ]
    elif any(v.status == "no_baseline" for v in versions):
        status = "incomplete"
        reasons = [
            f"v{v.model_version}: {v.message}" for v in versions if v.status == "no_baseline"
        ]
    elif all(v.status == "not_enough_data" for v in versions):
        status = "not_enough_data"
        reasons = [f"v{v.model_version}: not enough data ({v.message})" for v in versions]
    else:
        status = "ok"
        reasons = []
    reasons += [f"v{v.model_version}: {r}" for v in versions for r in v.reasons]
    scores = [v.drift_score for v in versions if v.drift_score is not None]

    report = DriftReport(
        generated_at=now,
        environment=config.environment,
        window=config.window.as_dict(),
        status=status,
        drift_detected=any(v.drift_detected for v in versions),
        drift_score=max(scores) if scores else None,
        reasons=reasons,
        rows=table.num_rows,
        files_read=len(data.files),
        partitions_read=len(data.partitions),
        inference_log=config.inference_log,
        thresholds=config.thresholds,
        versions=versions,
    )

    out = open_location(config.reports, connection_string=config.connection_string)
    stem = report_stem(config.environment, config.window)
    try:
        if config.html:
            for (name, version), (rows, baseline) in version_tables.items():
                html = _render(rows, baseline, features, config, name, version)
                path = out.path(config.environment, f"{stem}-v{version}.html")
                out.write_bytes(path, html.encode())
                report.html_reports[version] = out.display(path)
        report.report_url = out.display(out.path(config.environment, f"{stem}.json"))
        alerter = Alerter(
            config.webhook_url,
            fmt=config.webhook_format,
            reminder=config.alert_reminder,
            attempts=config.alert_attempts,
            backoff_s=config.alert_backoff_s,
        )
        report.alert = alerter.handle(report, out, now)
        report.duration_s = round(time.perf_counter() - started, 3)
        write_json(out, config.environment, stem, report.model_dump_json(indent=1).encode())
    except OSError as exc:
        raise DriftOutputError(
            f"cannot write to the drift-reports location {config.reports}: {exc}"
        ) from None

    if config.pushgateway_url:
        _push(config.pushgateway_url, report)
    log.info(
        "drift.run",
        environment=config.environment,
        window=config.window.label,
        status=report.status,
        drift_detected=report.drift_detected,
        drift_score=report.drift_score,
        rows=report.rows,
        files=report.files_read,
        versions=[v.model_version for v in versions],
        report=report.report_url,
        alert_sent=report.alert.sent if report.alert else False,
        duration_s=report.duration_s,
    )
    return report


def _render(rows, baseline, features, config: DriftConfig, name: str, version: str) -> str:
    from spam_drift.html import render_html

    return render_html(
        rows,
        baseline,
        features,
        title=f"{name} v{version}, {config.environment}, {config.window.label}",
        sample_rows=config.html_sample_rows,
    )


def _push(url: str, report: DriftReport) -> None:
    from spam_drift.metrics import push

    try:
        push(url, report, time.time())
    except OSError as exc:  # urllib errors: the report is written; the metrics are lost
        log.error("drift.push_failed", pushgateway=url, error=str(exc))
    else:
        log.info("drift.pushed", pushgateway=url)
