"""Public wire schemas of the gateway (requests, responses, errors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spam_core.message.wire import EmailIn

MAX_EMAILS = 100
"""Most e-mails in one batch-sync request (the transformer's limit too)."""


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    emails: list[EmailIn] = Field(min_length=1, max_length=MAX_EMAILS)


class PredictionOut(BaseModel):
    email_id: str
    prediction: Literal["spam", "ham"]
    spam_probability: float
    confidence: Literal["low", "medium", "high"]
    model_name: str
    model_version: str
    environment: Literal["staging", "production"]
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
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    services: list[ServiceStatus]


class ReadyOut(BaseModel):
    ready: bool
    transformer: dict[str, Any]


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

    input_path: str = Field(description="Parquet or archive in blob storage.")
    output_path: str | None = Field(None, description="Where the predictions Parquet goes.")


class BatchJobOut(BaseModel):
    job_id: str
    status: Literal["pending", "running", "succeeded", "failed"]
    environment: Literal["staging", "production"]
    input_path: str
    output_path: str | None = None
    model_version: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None
