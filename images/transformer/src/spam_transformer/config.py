"""Typed settings of the transformer (environment variables prefixed ``SPAM_TRANSFORMER_``).

The Helm chart (``charts/spam-platform/charts/transformer/templates/configmap.yaml``) sets
``PREDICTOR_{STAGING,PRODUCTION}_URL``, ``PROTOCOL``, ``FEATURES_URI_{STAGING,PRODUCTION}`` and
``FEAST_REPO_PATH`` (required); everything else has a default that suits one KServe
InferenceService per track (each serves its own Triton, with the model named ``spam-detector``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from spam_core.settings import Location, settings_config
from spam_transformer import TRACKS

Protocol = Literal["grpc", "http"]


@dataclass(frozen=True, slots=True)
class TrackSettings:
    """Everything one track needs: where its predictor is and which artifacts it pairs with."""

    environment: str
    predictor_url: str
    triton_model: str
    features_uri: str
    model_version: str | None


class TransformerSettings(BaseSettings):
    model_config = settings_config("SPAM_TRANSFORMER_")

    # --- predictors (Triton, KServe v2 protocol)
    PREDICTOR_STAGING_URL: str = Field(
        "127.0.0.1:8001", description="host:port of the staging Triton (no scheme)."
    )
    PREDICTOR_PRODUCTION_URL: str = Field(
        "127.0.0.1:8001", description="host:port of the production Triton (no scheme)."
    )
    PROTOCOL: Protocol = Field(
        "grpc",
        description="How the transformer talks to Triton. gRPC measured faster here "
        "(tests/benchmarks/bench_transformer.py); the URL ports must match the protocol.",
    )
    TRITON_MODEL_STAGING: str = Field("spam-detector", description="Triton model name (staging).")
    TRITON_MODEL_PRODUCTION: str = Field(
        "spam-detector", description="Triton model name (production)."
    )

    # --- artifacts (the bundle.json next to features.json gives threshold, name, version)
    FEATURES_URI_STAGING: Location = Field(
        description="The staging model's features.json: a path, file://, https:// or any "
        "fsspec URL; bundle.json is read from the same folder."
    )
    FEATURES_URI_PRODUCTION: Location = Field(description="The production model's features.json.")
    MODEL_VERSION_STAGING: str | None = Field(
        None, description="Reported staging model version (default: bundle.json's)."
    )
    MODEL_VERSION_PRODUCTION: str | None = Field(
        None, description="Reported production model version (default: bundle.json's)."
    )
    FEAST_REPO_PATH: Location = Field(
        description="Feast feature repository (a directory with feature_store.yaml) whose "
        "online store gives the sender reputation features: SQLite on one machine, Redis in "
        "the cluster (the chart mounts it)."
    )
    REPUTATION_CACHE_TTL_S: float = Field(
        60.0,
        ge=0,
        description="How long a looked-up sender / domain reputation is reused (0: always ask "
        "the store). Reputation moves slowly; the cache spares the store most lookups.",
    )
    REPUTATION_CACHE_SIZE: int = Field(100_000, ge=1, description="Entities kept in that cache.")
    REPUTATION_RETRY_AFTER_S: float = Field(
        5.0,
        gt=0,
        description="After a failed store lookup, score with defaults for this long before "
        "trying the store again (health says degraded meanwhile).",
    )

    # --- HTTP server
    HOST: str = "0.0.0.0"
    PORT: int = Field(8080, ge=1, le=65535)
    WORKERS: int = Field(
        1,
        ge=1,
        description="uvicorn worker processes. Each keeps its own /metrics counters, so scale "
        "with pods (HPA) rather than workers where Prometheus scrapes per pod.",
    )
    MAX_BATCH: int = Field(100, ge=1, description="Most e-mails in one /v1/predict request.")
    MAX_REQUEST_BYTES: int = Field(
        32 * 1024 * 1024, ge=1024, description="Largest request body; bigger gets 413."
    )
    GRACEFUL_SHUTDOWN_S: float = Field(
        20.0, gt=0, description="In-flight requests get this long after SIGTERM."
    )

    # --- timeouts and back-pressure
    TRITON_TIMEOUT_S: float = Field(
        5.0, gt=0, description="Deadline of one Triton inference call; past it: 503."
    )
    READY_TIMEOUT_S: float = Field(
        1.0, gt=0, description="Deadline of the Triton readiness checks behind GET /ready."
    )
    RETRY_AFTER_S: int = Field(2, ge=0, description="Retry-After header (seconds) on 503 answers.")
    GRPC_MAX_RECONNECT_BACKOFF_MS: int = Field(
        1000,
        ge=100,
        description="Upper bound of gRPC's reconnect backoff, so a restarted Triton is "
        "used again within about a second (gRPC's default is 120 s).",
    )

    # --- logs
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["console", "json"] = "console"
    ACCESS_LOG: bool = Field(False, description="uvicorn access log (one line per request).")

    @field_validator("PREDICTOR_STAGING_URL", "PREDICTOR_PRODUCTION_URL")
    @classmethod
    def _host_port(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if "://" in value:
            raise ValueError(f"{value!r}: give host:port without a scheme (tritonclient's form)")
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{value!r}: expected host:port")
        return value

    def track(self, environment: str) -> TrackSettings:
        if environment not in TRACKS:
            raise ValueError(f"unknown track {environment!r}; expected one of {TRACKS}")
        key = environment.upper()
        return TrackSettings(
            environment=environment,
            predictor_url=getattr(self, f"PREDICTOR_{key}_URL"),
            triton_model=getattr(self, f"TRITON_MODEL_{key}"),
            features_uri=getattr(self, f"FEATURES_URI_{key}"),
            model_version=getattr(self, f"MODEL_VERSION_{key}"),
        )

    def tracks(self) -> list[TrackSettings]:
        return [self.track(t) for t in TRACKS]
