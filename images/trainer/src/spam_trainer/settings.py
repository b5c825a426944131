"""Trainer settings (``SPAM_`` environment variables; MLflow reads ``MLFLOW_TRACKING_URI``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field

from spam_core.settings import CoreSettings, Location


class TrainerSettings(CoreSettings):
    model_name: str = Field("spam-detector", description="Registered model name.")
    experiment: str = Field("spam-detector", description="MLflow experiment.")
    gate_f1_min: float = Field(
        0.95, ge=0, le=1, description="Quality gate for alias staging: F1 on the test split."
    )
    gate_roc_auc_min: float = Field(
        0.99, ge=0, le=1, description="Quality gate: ROC-AUC on the test split."
    )
    gate_cold_fpr_max: float = Field(
        0.005,
        ge=0,
        le=1,
        description="Quality gate: largest ham false-positive rate for unknown senders (the "
        "test split with the reputation at its unknown defaults, raw and API field form).",
    )
    promote_tolerance: float = Field(
        0.005,
        ge=0,
        le=1,
        description="Largest drop in any gated metric that promotion to production accepts.",
    )
    promote_min_slice_rows: int = Field(
        20,
        ge=1,
        description="Promotion gates on an evaluation slice (test, recent feedback, cold start) "
        "only when it has at least this many e-mails; smaller slices are shown, not gated.",
    )
    train_feedback: bool = Field(
        True,
        description="`train` adds the feedback-labeled e-mails of the feedback log "
        "(SPAM_RETRAIN_FEEDBACK_LOG_URL, default $SPAM_HOME/feedback-logs) to the corpus's "
        "train and validation splits and reports the recent feedback slice "
        "(spam_trainer.feedback_data); false: the corpus only.",
    )
    train_feedback_recent_days: float = Field(
        7.0,
        ge=0,
        description="Feedback e-mails reported within this many days of the log's newest report "
        "are held out of training and scored as the recent feedback slice; 0: none held out.",
    )
    trials: int = Field(20, ge=1, description="Ray Tune trials.")
    cpus: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="CPUs for Ray Tune."
    )
    seed: int = 42
    publish_url: Location | None = Field(
        None,
        description="Where `spam-platform publish` writes model versions (SPAM_PUBLISH_URL): "
        "the models container, abfs://<container>[/<prefix>] (the chart's "
        "global.storage.modelsContainer), or a local directory. When set (or when the local "
        "platform's $SPAM_HOME/published exists), promotion and rollback refuse a version "
        "that is not published there.",
    )
    shadow_log_url: Location | None = Field(
        None,
        description="The gateways' shadow log (SPAM_SHADOW_LOG_URL; their "
        "SPAM_GATEWAY_SHADOW_LOG_URL), read by `promote` for the candidate's agreement with "
        "production on live traffic; default $SPAM_HOME/shadow-logs (the local platform's).",
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster the Ray Tune search runs on (ray.init(address=...)): a GCS "
        "address host:port or a Ray Client URI ray://host:10001. Unset: an embedded local Ray "
        "of SPAM_CPUS CPUs.",
    )

    @property
    def mlflow_dir(self) -> Path:
        return self.home / "mlflow"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def local_publish_dir(self) -> Path:
        """Where the local platform publishes (``spam-platform up``)."""
        return self.home / "published"

    def publish_location(self) -> str | None:
        """``SPAM_PUBLISH_URL``, else the local platform's publish directory when it exists,
        else None (no publish location: promotion does not check publication)."""
        if self.publish_url:
            return self.publish_url
        return str(self.local_publish_dir) if self.local_publish_dir.is_dir() else None

    def shadow_log_location(self) -> str:
        return self.shadow_log_url or str(self.home / "shadow-logs")

    def tracking_uri(self) -> str:
        """``MLFLOW_TRACKING_URI`` if set, else a local SQLite store under ``SPAM_HOME``."""
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if uri:
            return uri
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"


@lru_cache
def get_trainer_settings() -> TrainerSettings:
    return TrainerSettings()
