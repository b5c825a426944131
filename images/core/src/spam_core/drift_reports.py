"""Where drift reports live and how they are found again: written by the drift job
(``spam_drift``), read by the gateway (``GET /monitoring/drift``) and by ``spam-platform
retrain`` (the latest verdict per environment), both through :func:`history`.

Layout under the drift-reports location (a directory or an fsspec URL)::

    <environment>/drift-<environment>-<start>-<end>.json        the report
    <environment>/drift-<environment>-<start>-<end>-v<N>.html   Evidently HTML per version
    <environment>/alert-state.json                              webhook de-duplication

``<start>``/``<end>`` are UTC stamps (``20261205T1300Z``), so names sort by window start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:  # fsspec comes with the io extra
    import fsspec

log = structlog.get_logger("spam_core.drift_reports")

REPORT_PREFIX = "drift-"
ALERT_STATE_FILE = "alert-state.json"


def report_stem(environment: str, window_label: str) -> str:
    return f"{REPORT_PREFIX}{environment}-{window_label}"


def list_reports(fs: fsspec.AbstractFileSystem, root: str, environment: str) -> list[str]:
    """Paths of one environment's JSON reports, oldest window first (empty when none)."""
    try:
        names = fs.ls(f"{root}/{environment}", detail=False)
    except FileNotFoundError:
        return []
    prefix = f"{REPORT_PREFIX}{environment}-"
    return sorted(
        p for p in names if p.rsplit("/", 1)[-1].startswith(prefix) and p.endswith(".json")
    )


def read_report(fs: fsspec.AbstractFileSystem, path: str) -> dict[str, Any]:
    with fs.open(path, "rb") as fh:
        return json.loads(fh.read())


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The verdict of a report without its per-feature statistics."""
    return {
        "environment": report.get("environment"),
        "generated_at": report.get("generated_at"),
        "window": report.get("window"),
        "status": report.get("status"),
        "drift_detected": report.get("drift_detected"),
        "drift_score": report.get("drift_score"),
        "reasons": report.get("reasons", []),
        "rows": report.get("rows"),
        "report_url": report.get("report_url"),
        "html_reports": report.get("html_reports", {}),
        "versions": [
            {
                "model_name": v.get("model_name"),
                "model_version": v.get("model_version"),
                "status": v.get("status"),
                "drift_detected": v.get("drift_detected"),
                "drift_score": v.get("drift_score"),
                "rows": v.get("rows"),
                "drifted_features": v.get("drifted_features", []),
            }
            for v in report.get("versions", [])
        ],
    }


@dataclass
class History:
    """One environment's verdicts, newest window first (:func:`summary` of each report)."""

    environment: str
    reports: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    """File names of reports that could not be read or parsed (left out of ``reports``)."""
    total: int = 0
    """Reports at the location (read or not)."""

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.reports[0] if self.reports else None


def history(
    fs: fsspec.AbstractFileSystem, root: str, environment: str, limit: int | None = None
) -> History:
    """The newest ``limit`` readable verdicts of ``environment`` (all when None). The latest
    verdict is the readable report of the newest window; an unreadable newer one is named in
    ``unreadable`` and skipped."""
    paths = list_reports(fs, root, environment)
    found = History(environment, total=len(paths))
    for path in reversed(paths):
        if limit is not None and len(found.reports) >= limit:
            break
        try:
            found.reports.append(summary(read_report(fs, path)))
        except (OSError, ValueError) as exc:
            found.unreadable.append(path.rsplit("/", 1)[-1])
            log.warning("drift_reports.unreadable", path=path, error=str(exc))
    return found
