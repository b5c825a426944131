"""MLflow tracking and registry: one run per training, model versions, aliases, promotion.

MLflow 3 aliases (``staging``, ``production``) — never the deprecated stages. Every alias move
is recorded on the model version as tags (who/why/when/compared-with) so the registry itself is
the audit log.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spam_core.scoring import TRACKS
from spam_trainer.settings import TrainerSettings

ALIASES = TRACKS  # one alias per serving track
STAGING, PRODUCTION = TRACKS
GATED_METRICS = ("f1", "roc_auc", "precision", "recall")


def configure_mlflow(settings: TrainerSettings) -> str:
    """Point MLflow at the configured store; create the local SQLite store when needed."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    for noisy in ("mlflow", "optuna", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _quiet_pip_version_warning()

    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    if client.get_experiment_by_name(settings.experiment) is None:
        location = None
        if uri.startswith("sqlite:///"):  # local store: artifacts beside the database
            artifacts = settings.mlflow_dir / "artifacts"
            artifacts.mkdir(parents=True, exist_ok=True)
            location = artifacts.as_uri()
        client.create_experiment(settings.experiment, artifact_location=location)
    mlflow.set_experiment(settings.experiment)
    return uri


@dataclass(frozen=True)
class Gates:
    f1_min: float = 0.95
    roc_auc_min: float = 0.99
    cold_fpr_max: float = 0.005
    """Largest ham false-positive rate for unknown senders (``cold_ham_fpr``: the test split
    with the reputation at its unknown defaults, the worse of the raw and the API field form)."""

    def failures(self, metrics: dict[str, float]) -> list[str]:
        out = []
        cold = metrics.get("cold_ham_fpr", float("nan"))
        if not cold <= self.cold_fpr_max:
            out.append(f"unknown-sender ham FPR {cold:.4f} > {self.cold_fpr_max}")
        if not metrics.get("f1", 0.0) >= self.f1_min:
            out.append(f"test F1 {metrics.get('f1', 0.0):.4f} < {self.f1_min}")
        if not metrics.get("roc_auc", 0.0) >= self.roc_auc_min:
            out.append(f"test ROC-AUC {metrics.get('roc_auc', 0.0):.4f} < {self.roc_auc_min}")
        return out


def pip_requirements() -> list[str]:
    """Explicit (MLflow would otherwise infer both xgboost and xgboost-cpu, slowly)."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("onnxruntime", "numpy", "pandas", "pydantic")]


class _DropMessage(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def _quiet_pip_version_warning() -> None:
    """Two MLflow warnings that only confuse a first run; other MLflow warnings still show.

    - uv environments carry no pip, so MLflow cannot pin pip in the model's conda.yaml; the
      model's requirements are pinned explicitly (:func:`pip_requirements`).
    - The pyfunc takes e-mails as ``raw`` or as fields, with missing values (NaN) in either;
      a declared column signature would make MLflow refuse such frames before the model sees
      them, so the model has none, and MLflow's note that it could not infer one is expected.
    """
    for name, prefix in (
        ("mlflow.utils.environment", "Failed to resolve installed pip version"),
        ("mlflow.pyfunc", "Failed to infer model signature"),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) for f in logger.filters):
            logger.addFilter(_DropMessage(prefix))


def log_and_register(
    bundle_dir: Path, *, settings: TrainerSettings, register: bool
) -> tuple[str | None, Any]:
    """Log the pyfunc model (bundle attached) in the active run; register it if asked."""
    import mlflow

    from spam_trainer import pyfunc

    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(Path(pyfunc.__file__)),
        artifacts={"bundle": str(bundle_dir)},
        pip_requirements=pip_requirements(),
        registered_model_name=settings.model_name if register else None,
    )
    version = str(info.registered_model_version) if register else None
    return version, info


@dataclass
class AliasDecision:
    alias: str
    version: str
    moved: bool
    reasons: list[str] = field(default_factory=list)


def apply_staging_gate(
    version: str, metrics: dict[str, float], gates: Gates, settings: TrainerSettings
) -> AliasDecision:
    import mlflow

    client = mlflow.MlflowClient()
    failures = gates.failures(metrics)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if failures:
        client.set_model_version_tag(settings.model_name, version, "gate", "failed")
        client.set_model_version_tag(
            settings.model_name, version, "gate_failures", "; ".join(failures)
        )
        return AliasDecision(STAGING, version, False, failures)
    previous = alias_version(settings.model_name, STAGING)
    client.set_registered_model_alias(settings.model_name, STAGING, version)
    record_alias_move(
        settings.model_name, STAGING, version, previous, action="train", reason="gates passed"
    )
    client.set_model_version_tag(settings.model_name, version, "gate", "passed")
    client.set_model_version_tag(settings.model_name, version, "staging_since", now)
    return AliasDecision(
        STAGING,
        version,
        True,
        [
            f"gates passed (F1 >= {gates.f1_min}, ROC-AUC >= {gates.roc_auc_min}, "
            f"unknown-sender ham FPR <= {gates.cold_fpr_max})"
        ],
    )


def alias_version(name: str, alias: str) -> str | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


# --------------------------------------------------------------------------- alias history
HISTORY_KEEP = 50
"""Alias moves kept per alias in the registered model's ``<alias>_history`` tag (newest last;
MLflow caps a tag value at 5,000 characters)."""


def history_tag(alias: str) -> str:
    return f"{alias}_history"


def actor() -> str:
    """Who moves an alias: the workflow's actor in CI, else the local user."""
    import getpass

    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def alias_history(name: str, alias: str) -> list[dict[str, Any]]:
    """Recorded moves of ``alias`` (oldest first): version, previous, action, at, by, reason."""
    import json

    import mlflow

    raw = mlflow.MlflowClient().get_registered_model(name).tags.get(history_tag(alias))
    if not raw:
        return []
    try:
        entries = json.loads(raw)
    except ValueError:
        return []
    return [e for e in entries if isinstance(e, dict) and "version" in e]


def record_alias_move(
    name: str,
    alias: str,
    version: str,
    previous: str | None,
    *,
    action: str,
    reason: str,
    by: str | None = None,
) -> dict[str, Any]:
    """Append one move to the alias history (registered-model tag); returns the entry."""
    import json

    import mlflow

    entry = {
        "version": str(version),
        "previous": None if previous is None else str(previous),
        "action": action,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": by or actor(),
        "reason": reason[:300],
    }
    entries = [*alias_history(name, alias), entry]
    while entries:
        value = json.dumps(entries[-HISTORY_KEEP:], separators=(",", ":"))
        if len(value) <= 5000:
            break
        entries = entries[1:]
    mlflow.MlflowClient().set_registered_model_tag(name, history_tag(alias), value)
    return entry


def holders(history: list[dict[str, Any]]) -> list[str]:
    """The versions that held the alias, as a stack: a promotion pushes its version, a rollback
    returns to its target (dropping what was rolled back; a target not on the stack is
    pushed). The last entry is the current holder, the one before it the rollback target."""
    stack: list[str] = []
    for entry in history:
        version = str(entry["version"])
        if entry.get("action") == "rollback" and version in stack:
            del stack[stack.index(version) + 1 :]
        elif not stack or stack[-1] != version:
            stack.append(version)
    return stack
