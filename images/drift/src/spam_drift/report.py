"""The drift report (JSON). Where reports live: :mod:`spam_core.drift_reports` (the gateway
reads them from there too)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from spam_core import drift_reports
from spam_drift.analysis import Thresholds, VersionResult
from spam_drift.storage import Location
from spam_drift.window import Window

REPORT_KIND = "spam-platform/drift-report"


class AlertOutcome(BaseModel):
    configured: bool
    sent: bool = False
    deduplicated: bool = False
    attempts: int = 0
    error: str | None = None


class DriftReport(BaseModel):
    kind: Literal["spam-platform/drift-report"] = REPORT_KIND
    schema_version: Literal[1] = 1
    generated_at: datetime
    environment: str
    window: dict[str, str]
    status: Literal["ok", "not_enough_data", "no_data", "incomplete"] = Field(
        description="ok: every version with rows got a verdict; not_enough_data: none had "
        "enough rows; no_data: the window has no rows; incomplete: a version's baseline is "
        "missing."
    )
    drift_detected: bool
    drift_score: float | None = Field(
        None, description="Largest aggregate drift score among the versions (0..1)."
    )
    reasons: list[str]
    rows: int
    files_read: int
    partitions_read: int
    inference_log: str
    thresholds: Thresholds
    versions: list[VersionResult]
    report_url: str | None = None
    html_reports: dict[str, str] = Field(default_factory=dict)
    alert: AlertOutcome | None = None
    duration_s: float | None = None


def report_stem(environment: str, window: Window) -> str:
    return drift_reports.report_stem(environment, window.label)


def write_json(location: Location, environment: str, stem: str, data: bytes) -> str:
    path = location.path(environment, f"{stem}.json")
    location.write_bytes(path, data)
    return location.display(path)
