"""Settings and file layout of the local platform."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator

from spam_core.scoring import TRACKS as TRACKS
from spam_trainer.settings import TrainerSettings

DRIFT_OFF = ("0", "off")
"""Values of ``SPAM_LOCAL_DRIFT_INTERVAL`` that turn the scheduled drift runs off."""


def _duration(text: str) -> timedelta:
    """``30m``, ``1h``, ``1d`` (the drift job's durations) or a ValueError for pydantic."""
    from spam_drift.errors import DriftInputError
    from spam_drift.window import parse_duration

    try:
        return parse_duration(text)
    except DriftInputError as exc:
        raise ValueError(str(exc)) from None


class LocalSettings(TrainerSettings):
    """``SPAM_`` variables of ``spam-platform up`` (ports are fixed so scripts can rely on them)."""

    gateway_port: int = Field(8080, description="Gateway on http://127.0.0.1:PORT.")
    transformer_port: int = Field(8081)
    triton_http_port: int = Field(8000)
    triton_grpc_port: int = Field(8001)
    triton_metrics_port: int = Field(8002)
    mlflow_port: int = Field(5000)
    api_key: str | None = Field(
        None, description="SPAM_API_KEY: the local operator key; generated and printed when unset."
    )
    up_trials: int = Field(8, ge=1, description="Ray Tune trials when `up` has to train.")
    ready_timeout: float = Field(180.0, description="Seconds `up` waits for /ready.")
    liveness_timeout: float = Field(
        15.0,
        gt=0,
        description="The supervisor restarts a service whose /health has not answered for this "
        "many seconds (a hung or frozen process, not only one that exited).",
    )

    local_drift_interval: str = Field(
        "1h",
        description="SPAM_LOCAL_DRIFT_INTERVAL: the supervisor runs the drift job for each "
        "environment every this long (30m, 1h, 1d; on the clock: 1h runs on the hour, like the "
        "chart's hourly CronJob); 0 or off: no scheduled runs.",
    )
    local_drift_window: str | None = Field(
        None,
        description="SPAM_LOCAL_DRIFT_WINDOW: the window each scheduled run reads, ending at its "
        "scheduled time (the chart's `since`); default: the interval.",
    )
    local_reputation_cache_ttl_s: float = Field(
        5.0,
        ge=0,
        description="SPAM_LOCAL_REPUTATION_CACHE_TTL_S: the local transformer's reputation cache "
        "TTL (its SPAM_TRANSFORMER_REPUTATION_CACHE_TTL_S; the transformer's own default is "
        "60 s): feedback reaches the next score of that sender within it.",
    )
    shadow_sample_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="SPAM_SHADOW_SAMPLE_RATE: share of the local gateway's production-track "
        "e-mails also scored by the staging model, off the request path (its "
        "SPAM_GATEWAY_SHADOW_*; rows in SPAM_SHADOW_LOG_URL, default $SPAM_HOME/shadow-logs, "
        "where `promote` reads them); 0: shadow scoring off.",
    )
    local_drift_environments: str = Field(
        ",".join(TRACKS),
        description="SPAM_LOCAL_DRIFT_ENVIRONMENTS: the model tracks the scheduled runs cover "
        "(comma-separated).",
    )

    @field_validator("local_drift_interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in DRIFT_OFF:
            _duration(value)
        return value

    @field_validator("local_drift_window")
    @classmethod
    def _check_window(cls, value: str | None) -> str | None:
        from spam_drift.window import MAX_WINDOW

        if value is not None and _duration(value) > MAX_WINDOW:
            raise ValueError(f"{value!r}: a drift window is at most {MAX_WINDOW.days} days")
        return value

    @field_validator("local_drift_environments")
    @classmethod
    def _check_environments(cls, value: str) -> str:
        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in TRACKS]
        if not names or unknown:
            raise ValueError(
                f"{value!r}: a comma-separated list of {', '.join(TRACKS)}"
                + (f" (unknown: {', '.join(unknown)})" if unknown else "")
            )
        return ",".join(dict.fromkeys(names))

    @property
    def drift_interval(self) -> timedelta | None:
        """The schedule's period, or None when scheduled drift runs are off."""
        if self.local_drift_interval in DRIFT_OFF:
            return None
        return _duration(self.local_drift_interval)

    @property
    def drift_window(self) -> timedelta | None:
        if self.drift_interval is None:
            return None
        return (
            _duration(self.local_drift_window) if self.local_drift_window else self.drift_interval
        )

    @property
    def drift_environments(self) -> tuple[str, ...]:
        return tuple(self.local_drift_environments.split(","))

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def models_run_dir(self) -> Path:
        return self.run_dir / "models"

    @property
    def batch_input_dir(self) -> Path:
        """The one location the local gateway takes async batch inputs from."""
        return self.home / "batch" / "input"

    @property
    def triton_repo(self) -> Path:
        return self.run_dir / "triton"

    @property
    def mlflow_uri(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"


@lru_cache
def get_local_settings() -> LocalSettings:
    return LocalSettings()
