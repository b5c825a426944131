"""Webhook alerts on drift: de-duplicated across windows, retried.

The body is generic JSON (``format="json"``) or a Slack-compatible ``{"text": …}``
(``format="slack"``, for Slack incoming webhooks and the many tools that accept that shape).

De-duplication: the drift's fingerprint (environment, model versions and which signals
drifted) is kept in ``<environment>/alert-state.json`` under the reports location. The same
drift in the next windows does not alert again until ``reminder`` has passed since the last
alert; a different drift alerts at once; a window without drift clears the state (the next
drift alerts again). Windows without a verdict (not enough data) leave it as it is.

Retries: up to ``attempts`` tries on connection errors, timeouts, 429 and 5xx, with
exponential back-off; other 4xx fail at once (a wrong URL will not heal).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta
from typing import Literal

import httpx
import structlog
from pydantic import BaseModel

from spam_core.drift_reports import ALERT_STATE_FILE
from spam_drift.report import AlertOutcome, DriftReport
from spam_drift.storage import Location

log = structlog.get_logger("spam_drift.alert")


class AlertState(BaseModel):
    fingerprint: str
    first_alerted_at: datetime
    last_alerted_at: datetime
    alerts: int


def fingerprint(report: DriftReport) -> str:
    parts = sorted(
        f"{v.model_name}/{v.model_version}:"
        + ",".join(
            sorted(v.drifted_features)
            + (["score"] if v.score and v.score.drifted else [])
            + (["spam_rate"] if v.spam_rate and v.spam_rate.drifted else [])
        )
        for v in report.versions
        if v.drift_detected
    )
    return hashlib.sha256(f"{report.environment}|{'|'.join(parts)}".encode()).hexdigest()[:16]


def payload(report: DriftReport, fmt: Literal["json", "slack"]) -> dict[str, object]:
    versions = [
        {
            "model_name": v.model_name,
            "model_version": v.model_version,
            "drift_score": v.drift_score,
            "rows": v.rows,
            "reasons": v.reasons,
        }
        for v in report.versions
        if v.drift_detected
    ]
    if fmt == "slack":
        lines = [
            f":warning: *Drift detected* in `{report.environment}` "
            f"({report.window['start']} – {report.window['end']})"
        ]
        for v in versions:
            lines.append(f"• {v['model_name']} v{v['model_version']}: {'; '.join(v['reasons'])}")
        if report.report_url:
            lines.append(f"Report: {report.report_url}")
        return {"text": "\n".join(lines)}
    return {
        "type": "spam-platform.drift",
        "drift_detected": report.drift_detected,
        "environment": report.environment,
        "window": report.window,
        "drift_score": report.drift_score,
        "reasons": report.reasons,
        "versions": versions,
        "report_url": report.report_url,
        "html_reports": report.html_reports,
        "generated_at": report.generated_at.isoformat(),
    }


def post_with_retries(
    url: str,
    body: dict[str, object],
    *,
    attempts: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 10.0,
) -> tuple[int, str | None]:
    """POST ``body``; (attempts made, error or None)."""
    error = None
    with httpx.Client(timeout=timeout_s) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, json=body)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return attempt, None
                error = f"HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    return attempt, error
            log.warning("drift.alert_retry", attempt=attempt, error=error)
            if attempt < attempts:
                time.sleep(backoff_s * 2 ** (attempt - 1))
    return attempts, error


class Alerter:
    def __init__(
        self,
        url: str | None,
        *,
        fmt: Literal["json", "slack"] = "json",
        reminder: timedelta = timedelta(hours=24),
        attempts: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.fmt = fmt
        self.reminder = reminder
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def _state_path(self, location: Location, environment: str) -> str:
        return location.path(environment, ALERT_STATE_FILE)

    def _read_state(self, location: Location, environment: str) -> AlertState | None:
        try:
            with location.fs.open(self._state_path(location, environment), "rb") as fh:
                return AlertState.model_validate_json(fh.read())
        except FileNotFoundError:
            return None
        except ValueError:  # unreadable state: alert rather than stay silent
            return None

    def handle(self, report: DriftReport, location: Location, now: datetime) -> AlertOutcome:
        outcome = AlertOutcome(configured=bool(self.url))
        if report.status in ("no_data", "not_enough_data"):
            return outcome
        state_path = self._state_path(location, report.environment)
        if not report.drift_detected:
            if location.fs.exists(state_path):
                location.fs.rm(state_path)
                log.info("drift.alert_state_cleared", environment=report.environment)
            return outcome
        if not self.url:
            return outcome
        fp = fingerprint(report)
        state = self._read_state(location, report.environment)
        if (
            state is not None
            and state.fingerprint == fp
            and now - state.last_alerted_at < self.reminder
        ):
            outcome.deduplicated = True
            log.info("drift.alert_deduplicated", fingerprint=fp, last=str(state.last_alerted_at))
            return outcome
        attempts, error = post_with_retries(
            self.url,
            payload(report, self.fmt),
            attempts=self.attempts,
            backoff_s=self.backoff_s,
            timeout_s=self.timeout_s,
        )
        outcome.attempts = attempts
        outcome.error = error
        outcome.sent = error is None
        if outcome.sent:
            same = state is not None and state.fingerprint == fp
            new = AlertState(
                fingerprint=fp,
                first_alerted_at=state.first_alerted_at if same and state else now,
                last_alerted_at=now,
                alerts=(state.alerts + 1) if same and state else 1,
            )
            location.write_bytes(state_path, json.dumps(new.model_dump(mode="json")).encode())
            log.info("drift.alert_sent", fingerprint=fp, attempts=attempts)
        else:
            log.error("drift.alert_failed", error=error, attempts=attempts)
        return outcome
