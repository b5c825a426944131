"""Settings and file layout of the local platform."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from spam_core.scoring import TRACKS as TRACKS
from spam_trainer.settings import TrainerSettings


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
    def triton_repo(self) -> Path:
        return self.run_dir / "triton"

    @property
    def inference_log_dir(self) -> Path:
        return self.home / "inference-logs"

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
