"""Promotion: move an alias (``production``) to a candidate version after a fair comparison.

Both the candidate and the current holder of the alias score the same test records (each with
its own feature artifacts and threshold); the alias moves only if no gated metric regresses by
more than the tolerance. The decision, the numbers and the previous holder are recorded as tags
on the candidate version (the registry is the audit log, and the previous holder is the
rollback target).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from spam_core.bundle import ModelBundle
from spam_core.bundle import resolve_model_ref as resolve_model
from spam_core.errors import ArtifactError
from spam_core.features import ReputationSource
from spam_core.ingest import read_records
from spam_trainer.evaluate import classification_metrics
from spam_trainer.publish import PublishError, require_published
from spam_trainer.registry import GATED_METRICS, STAGING, actor, alias_version, record_alias_move
from spam_trainer.settings import TrainerSettings


class PromotionError(RuntimeError):
    """Nothing to promote, or the promotion was refused (see ``reasons``)."""


@dataclass
class Promotion:
    alias: str
    candidate: str
    previous: str | None
    promoted: bool
    reasons: list[str]
    candidate_metrics: dict[str, float]
    previous_metrics: dict[str, float] | None = None
    n_test: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def _evaluate(ref: str, records, y: np.ndarray, reputation: ReputationSource) -> dict[str, float]:
    path, _ = resolve_model(ref)
    bundle = ModelBundle.load(path)
    return classification_metrics(y, bundle.predict_records(records, reputation), bundle.threshold)


def promote(
    settings: TrainerSettings,
    *,
    dataset_dir: Path,
    to: str = "production",
    version: str | None = None,
    source_alias: str = STAGING,
    tolerance: float | None = None,
    dry_run: bool = False,
    reputation: ReputationSource,
) -> Promotion:
    """Score both versions on the test split with the same reputation source (the online
    store: the train split's history, never a test label) and move the alias unless a gated
    metric drops by more than the tolerance."""
    import mlflow

    name = settings.model_name
    tolerance = settings.promote_tolerance if tolerance is None else tolerance
    candidate = version or alias_version(name, source_alias)
    if candidate is None:
        raise PromotionError(
            f"no version of {name!r} holds alias {source_alias!r} and no "
            "--version was given: nothing to promote"
        )
    previous = alias_version(name, to)
    client = mlflow.MlflowClient()
    from mlflow.exceptions import MlflowException

    try:
        gate = client.get_model_version(name, candidate).tags.get("gate")
    except MlflowException as exc:
        raise PromotionError(f"{name} v{candidate}: {exc.message}") from None
    if gate != "passed":
        raise PromotionError(
            f"{name} v{candidate} has not passed the quality gates "
            f"(gate tag: {gate!r}): it cannot become {to!r}"
        )
    unpublished = None
    try:
        require_published(settings.publish_location(), name, candidate)
    except PublishError as exc:
        if not dry_run:
            raise PromotionError(f"{exc}: it cannot become {to!r}") from None
        unpublished = str(exc)
    records, labels = read_records(dataset_dir, split="test")
    if not records:
        raise PromotionError(f"{dataset_dir}: the test split is empty")
    y = np.array([lab == "spam" for lab in labels], dtype=np.float32)
    try:
        cand = _evaluate(f"models:/{name}/{candidate}", records, y, reputation)
        prev = _evaluate(f"models:/{name}/{previous}", records, y, reputation) if previous else None
    except ArtifactError as exc:
        raise PromotionError(str(exc)) from exc

    reasons: list[str] = []
    if previous == candidate:
        reasons.append(f"version {candidate} already holds alias {to!r}")
        return Promotion(to, candidate, previous, False, reasons, cand, prev, len(y))
    if prev is None:
        reasons.append(f"no current {to!r} version: first promotion")
    else:
        for metric in GATED_METRICS:
            drop = prev[metric] - cand[metric]
            if drop > tolerance:
                reasons.append(
                    f"{metric} {cand[metric]:.4f} vs {prev[metric]:.4f} "
                    f"(v{previous}): drops {drop:.4f} > tolerance {tolerance}"
                )
    regressions = [r for r in reasons if "drops" in r]
    promoted = not regressions
    if unpublished:
        reasons.append(f"not published, promotion would be refused: {unpublished}")
        promoted = False
    if promoted and prev is not None:
        reasons.append(
            f"no gated metric ({', '.join(GATED_METRICS)}) drops more than "
            f"{tolerance} vs v{previous} on {len(y)} test e-mails"
        )
    if not dry_run:
        record = json.dumps(
            {
                "to": to,
                "previous": previous,
                "tolerance": tolerance,
                "n_test": len(y),
                "candidate": {k: round(cand[k], 6) for k in GATED_METRICS},
                "previous_metrics": None
                if prev is None
                else {k: round(prev[k], 6) for k in GATED_METRICS},
                "reasons": reasons,
            }
        )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if promoted:
            client.set_registered_model_alias(name, to, candidate)
            record_alias_move(
                name, to, candidate, previous, action="promote", reason="; ".join(reasons)
            )
            client.set_model_version_tag(name, candidate, f"{to}_since", now)
            client.set_model_version_tag(name, candidate, f"{to}_promoted_by", actor())
            client.set_model_version_tag(name, candidate, f"{to}_promotion", record)
            if previous:
                client.set_model_version_tag(name, previous, f"{to}_replaced_by", candidate)
        else:
            client.set_model_version_tag(name, candidate, f"{to}_refused", record)
    return Promotion(to, candidate, previous, promoted, reasons, cand, prev, len(y))
