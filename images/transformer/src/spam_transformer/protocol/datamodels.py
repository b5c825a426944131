"""Wire schemas of the transformer's REST API (pydantic; KServe's ``v2_datamodels.py``).

Requests are validated with these models straight from the JSON bytes
(``PredictRequest.model_validate_json``). Responses are built as plain dicts and serialized with
orjson; the response models below document them (OpenAPI) and are what the tests hold the
answers to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spam_core.features import NAMED_FEATURES
from spam_core.message.wire import EmailIn
from spam_core.scoring import Prediction, Track


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str = Field(description="Model track: `staging` or `production`.")
    emails: list[EmailIn] = Field(description="1..MAX_BATCH e-mails (default 100).")
    explain: bool = Field(
        False,
        description="Add each prediction's top contributing features (TreeSHAP on the track's "
        "xgboost.json; spam_core.explain) as `explanation`.",
    )


EngineeredFeatures = dict[str, float]


class PredictionOut(Prediction):
    """The scoring contract's prediction and the named features behind it."""

    features: EngineeredFeatures = Field(
        description=f"The {len(NAMED_FEATURES)} named feature values by name: the engineered "
        "content features, then the sender reputation (spam_core.features.spec.NAMED_FEATURES)."
    )
    explanation: dict[str, object] | None = Field(
        None,
        description="With `explain`: `margin` (log-odds) = `bias` + the sum of every feature's "
        "contribution; `top`: the largest contributions (feature, kind, label, value, "
        "contribution > 0 towards spam).",
    )


class PredictResponse(BaseModel):
    environment: Track
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
    threshold: float | None = Field(None, description="Spam decision threshold (bundle.json).")
    feature_set: str | None = Field(None, description="Feature-set version of the model.")
    trained_at: datetime | None = Field(None, description="When the model bundle was built.")
    loaded_at: datetime | None = Field(
        None, description="When this transformer loaded the track's model."
    )
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
