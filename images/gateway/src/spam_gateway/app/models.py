"""Public wire schemas of the gateway (requests, responses, errors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_EMAILS = 100
"""Most e-mails in one batch-sync request (the transformer's limit too)."""


class EmailIn(BaseModel):
    """One e-mail: either its fields (``subject``, ``body``, ``sender``, optional ``date``) or
    the whole RFC 822 message as ``raw``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email_id": "msg-001",
                    "subject": "Team meeting moved to Thursday",
                    "body": "Hi all, the weekly sync moves to Thursday 10:00.",
                    "sender": "alice@example.com",
                    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
                },
                {"email_id": "msg-002", "raw": "From: a@b.c\r\nSubject: hi\r\n\r\nbody"},
            ]
        },
    )

    email_id: str = Field(min_length=1, max_length=256)
    subject: str | None = Field(None, max_length=100_000)
    body: str | None = None
    sender: str | None = Field(None, max_length=10_000)
    date: str | None = Field(None, max_length=200)
    raw: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _fields_or_raw(self) -> EmailIn:
        fields = (self.subject, self.body, self.sender)
        if self.raw is not None:
            if any(f is not None for f in (*fields, self.date)):
                raise ValueError("give either raw or subject/body/sender/date, not both")
        elif any(f is None for f in fields):
            missing = [
                n for n, f in zip(("subject", "body", "sender"), fields, strict=True) if f is None
            ]
            raise ValueError(f"missing {', '.join(missing)} (or give the whole message as raw)")
        return self

    def upstream(self) -> dict[str, Any]:
        """The transformer's e-mail object."""
        if self.raw is not None:
            return {"email_id": self.email_id, "raw": self.raw}
        out = {
            "email_id": self.email_id,
            "subject": self.subject,
            "body": self.body,
            "sender": self.sender,
        }
        if self.date is not None:
            out["date"] = self.date
        return out


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
