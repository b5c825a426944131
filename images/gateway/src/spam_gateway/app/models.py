"""Public wire schemas of the gateway (requests, responses, errors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spam_core.jobs import State
from spam_core.message.wire import EmailIn
from spam_core.scoring import Prediction, Track

MAX_EMAILS = 100
"""Most e-mails in one batch-sync request (the transformer's limit too)."""


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emails: list[EmailIn] = Field(min_length=1, max_length=MAX_EMAILS)


class PredictionOut(Prediction):
    """The scoring contract's prediction and which model, track and time gave it."""

    model_name: str
    model_version: str
    environment: Track
    latency_ms: float = Field(description="Time spent in the gateway for the whole request.")
    explanation: dict[str, Any] | None = Field(
        None,
        description="Only with `?explain=true`: `margin` (log-odds of spam) = `bias` + the sum "
        "of every feature's contribution; `top`: the largest contributions, each with "
        "`feature`, `kind` (term, content, reputation), `label`, `value` and `contribution`.",
    )


class ServiceStatus(BaseModel):
    name: str
    status: Literal["ok", "degraded", "down"]
    detail: dict[str, Any] = Field(default_factory=dict)


class HealthOut(BaseModel):
    """The status; ``version`` and ``services`` only for an ``operator`` key."""

    status: Literal["healthy", "degraded", "unhealthy"]
    version: str | None = None
    services: list[ServiceStatus] | None = None


class ReadyOut(BaseModel):
    """``transformer`` (the upstream's readiness document) only for an ``operator`` key."""

    ready: bool
    transformer: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    error: ErrorBody
    correlation_id: str
    timestamp: str


class BatchJobIn(BaseModel):
    """POST /predict/batch: score a Parquet file of e-mails or an archive in blob storage."""

    model_config = ConfigDict(extra="forbid")

    input_path: str = Field(
        description="Parquet or archive: a local path or abfs:// URL under the configured "
        "allowed locations (else 422 with the reason).",
        pattern=r"^[A-Za-z0-9_./:@=+%~-]{1,1024}$",
    )
    output_path: str | None = Field(
        None,
        description="Where the predictions Parquet goes (under the allowed output locations).",
        pattern=r"^[A-Za-z0-9_./:@=+%~-]{1,1024}$",
    )


class BatchJobOut(BaseModel):
    job_id: str
    status: State
    environment: Track
    input_path: str
    output_path: str | None = None
    model_version: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None
