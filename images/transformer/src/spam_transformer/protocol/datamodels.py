"""Wire schemas of the transformer's REST API (pydantic; KServe's ``v2_datamodels.py``).

Requests are validated with these models straight from the JSON bytes
(``PredictRequest.model_validate_json``). Responses are built as plain dicts and serialized with
orjson; the response models below document them (OpenAPI) and are what the tests hold the
answers to.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spam_core.features import NAMED_FEATURES

Environment = Literal["staging", "production"]


class EmailIn(BaseModel):
    """One e-mail: the API fields ``subject``/``body``/``sender`` (+ optional ``date``), or
    the full RFC 822 message as ``raw``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email_id": "m-1",
                    "subject": "Meeting moved to 3pm",
                    "body": "Hi team, the review moves to 3pm in room 2.",
                    "sender": "Ann <ann@example.org>",
                    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
                },
                {"email_id": "m-2", "raw": "From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"},
            ]
        },
    )

    email_id: str = Field(min_length=1, max_length=512)
    raw: str | None = Field(None, description="Full RFC 822 message (headers + body).")
    subject: str | None = None
    body: str | None = None
    sender: str | None = Field(None, description="The From value, e.g. `Ann <ann@example.org>`.")
    date: str | None = Field(None, description="RFC 2822 or ISO 8601 send date (optional).")

    @model_validator(mode="after")
    def _one_form(self) -> EmailIn:
        fields = {"subject": self.subject, "body": self.body, "sender": self.sender}
        if self.raw is not None:
            given = [k for k, v in (*fields.items(), ("date", self.date)) if v is not None]
            if given:
                raise ValueError(
                    f"give either `raw` or the fields subject/body/sender/date, not both "
                    f"(got raw and {', '.join(given)})"
                )
        else:
            missing = [k for k, v in fields.items() if v is None]
            if missing:
                raise ValueError(
                    "an e-mail needs `raw`, or `subject`, `body` and `sender` "
                    f"(missing: {', '.join(missing)})"
                )
        return self


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str = Field(description="Model track: `staging` or `production`.")
    emails: list[EmailIn] = Field(description="1..MAX_BATCH e-mails (default 100).")


EngineeredFeatures = dict[str, float]


class PredictionOut(BaseModel):
    email_id: str
    spam_probability: float = Field(ge=0.0, le=1.0)
    prediction: Literal["spam", "ham"]
    confidence: Literal["low", "medium", "high"]
    features: EngineeredFeatures = Field(
        description=f"The {len(NAMED_FEATURES)} named feature values by name: the engineered "
        "content features, then the sender reputation (spam_core.features.spec.NAMED_FEATURES)."
    )


class PredictResponse(BaseModel):
    environment: Environment
    model_name: str
    model_version: str
    threshold: float
    predictions: list[PredictionOut] = Field(description="In request order.")
    latency_ms: float


class ErrorBody(BaseModel):
    code: str
    message: str
    details: object | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class TrackStatus(BaseModel):
    ready: bool
    detail: str
    model_name: str | None = None
    model_version: str | None = None
    triton_model: str
    predictor: str
    protocol: str


class ReputationStatus(BaseModel):
    status: Literal["healthy", "degraded", "disabled"] = Field(
        description="degraded: the Feast online store does not answer; the sender reputation "
        "features take their defaults (cached values where there are any) until it does."
    )
    error: str | None = None
    since: float | None = Field(None, description="Unix time the outage began.")


class ReadyResponse(BaseModel):
    ready: bool
    tracks: dict[str, TrackStatus]
    reputation: ReputationStatus


class HealthResponse(BaseModel):
    status: Literal["alive"]
    version: str
    tracks: dict[str, bool] = Field(description="Artifacts loaded, per track.")
    reputation: ReputationStatus
