"""Public wire schemas of the gateway (requests, responses, errors)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spam_core.jobs import State
from spam_core.message.wire import EmailIn
from spam_core.scoring import Prediction, Track

MAX_EMAILS = 100
"""Most e-mails in one batch-sync request (the transformer's limit too)."""


class BatchIn(BaseModel):
    """POST /predict/batch-sync: an object with 1..100 `emails` and nothing else (else 422 for
    the whole request). Each e-mail is checked on its own: one that is not a valid `EmailIn` is
    answered in `errors` while the others are scored."""

    model_config = ConfigDict(extra="forbid")

    emails: list[Annotated[EmailIn | Any, Field(union_mode="left_to_right")]] = Field(
        min_length=1,
        max_length=MAX_EMAILS,
        description="1..100 e-mails, each an `EmailIn`; an item that is not one (or that the "
        "transformer refuses) is reported in the response's `errors` with its index, and the "
        "others are scored.",
    )


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


class ItemError(BaseModel):
    """Why one e-mail of a batch-sync request was not scored."""

    index: int = Field(ge=0, description="Position of the e-mail in the request's `emails`.")
    email_id: str | None = Field(
        description="The e-mail's `email_id` when it gave a string one, else null."
    )
    code: str = Field(
        description="`invalid_input`: the e-mail is not a valid `EmailIn`, or "
        "the transformer could not parse it (over a parsing limit, unparseable)."
    )
    message: str
    details: Any = Field(
        None, description="The validation errors (`loc` within the e-mail, `msg`, `type`)."
    )


class BatchSyncOut(BaseModel):
    """POST /predict/batch-sync: every e-mail answered, in request order.

    `predictions[i]` is the prediction of `emails[i]`, or `null` when that e-mail failed (its
    entry in `errors` says why), so a client can pair answers with its e-mails by position."""

    predictions: list[PredictionOut | None] = Field(
        description="In request order; null where the e-mail failed (see `errors`)."
    )
    errors: list[ItemError] = Field(description="One entry per failed e-mail, by index.")
    total: int = Field(ge=0, description="E-mails in the request.")
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)
    environment: Track
    latency_ms: float = Field(description="Time spent in the gateway for the whole request.")


class TrackModel(BaseModel):
    """The model one track serves, as the transformer in front of its Triton reports it."""

    environment: Track
    model_name: str | None = Field(description="Registered model name.")
    model_version: str | None = Field(description="Registry version.")
    feature_set: str | None = Field(
        description="Feature-set version the model was trained for (e.g. `email-529-v4`)."
    )
    threshold: float | None = Field(description="Spam decision threshold of this model.")
    trained_at: datetime | None = Field(description="When the model bundle was built.")
    deployed_at: datetime | None = Field(
        description="When the serving transformer loaded this model (its rollout, or the "
        "transformer's last restart)."
    )
    triton_model: str | None = Field(description="The Triton model serving the track.")
    ready: bool = Field(description="The model is loaded and Triton serves it.")
    detail: str = Field(description="Readiness in words (`ready`, or why not).")


class ModelsOut(BaseModel):
    """GET /models. Null fields: the transformer did not report them (it is unreachable or
    the track's model is not loaded)."""

    models: list[TrackModel]
    default_environment: Track


class RateLimits(BaseModel):
    auth_failures_per_client: str | None = Field(
        description="Failed authentications per client address before 429 (null: off)."
    )
    quota_viewer: str | None = Field(description="Requests per window of a viewer key.")
    quota_operator: str | None = Field(description="Requests per window of an operator key.")


class Limits(BaseModel):
    batch_sync_max_emails: int = Field(description="Most e-mails in one batch-sync request.")
    max_body_bytes: int = Field(description="Largest request body; larger gets 413.")
    body_timeout_s: float = Field(description="Longest time to send a request body (408).")
    rate_limits: RateLimits


class InfoOut(BaseModel):
    """GET /info: what this gateway is and the limits it applies."""

    service: str
    version: str = Field(description="Version of the gateway package.")
    api_version: str = Field(description="Version of this HTTP API's contract.")
    tracks: list[Track]
    default_environment: Track
    limits: Limits
    openapi_url: str
    docs_url: str


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
