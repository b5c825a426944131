"""Promotion: move an alias (``production``) to a candidate version after a fair comparison.

Champion / challenger on the same evaluation data: the candidate (``staging``) and the current
holder of the alias (``production``) each score, with their own feature artifacts and
threshold, the same slices (:func:`evaluation_slices`):

``test``      the dataset's test split, with the reputation source's sender/domain history
``feedback``  the recent feedback slice: feedback-labeled e-mails that carry their content,
              reported since the production model's training, each once with its label by
              training's rule (``spam_trainer.feedback_data.read_feedback``), scored with the
              same reputation source
``cold``      the test split again with the reputation at its unknown defaults (every e-mail
              from a fresh sender at a fresh domain: the cold-start slice of
              ``spam_trainer.slices``)
``shadow``    live traffic (``spam_trainer.shadow``): production e-mails the gateway also had
              the candidate score in production's shadow, since the same moment as the
              feedback slice, that a user labelled — each side's logged scores; beside the
              table, the number of shadow rows and the two models' agreement on them

:func:`compare` is the one rule: on each slice, each of its gated metrics (:data:`SLICE_GATES`)
may be worse for the candidate by at most the tolerance; a metric that is undefined on a slice
(NaN: one class missing) is shown and not gated, and a slice with fewer than
``SPAM_PROMOTE_MIN_SLICE_ROWS`` e-mails is shown and not gated. ``promote --dry-run`` prints
that comparison and the decision; without it the same comparison decides, and the decision, the
numbers and the previous holder are recorded as tags on the candidate version (the registry is
the audit log, and the previous holder is the rollback target).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from spam_core.bundle import ModelBundle
from spam_core.bundle import resolve_model_ref as resolve_model
from spam_core.errors import ArtifactError
from spam_core.features import NoHistory, ReputationSource
from spam_core.ingest import read_records
from spam_core.message import EmailRecord
from spam_trainer.evaluate import classification_metrics
from spam_trainer.feedback_data import unseen_since
from spam_trainer.publish import PublishError, require_published
from spam_trainer.registry import GATED_METRICS, STAGING, actor, alias_version, record_alias_move
from spam_trainer.settings import TrainerSettings
from spam_trainer.shadow import ShadowSummary, shadow_summary

SLICE_NAMES = ("test", "feedback", "cold", "shadow")
SLICE_GATES: dict[str, tuple[str, ...]] = {
    "test": GATED_METRICS,
    "feedback": ("accuracy", "ham_fpr"),
    "cold": ("roc_auc", "ham_fpr"),
    "shadow": ("accuracy", "ham_fpr"),
}
"""The metrics each slice gates on. ``feedback`` and ``shadow`` (the labelled live e-mails)
are mostly one class (users report mistakes), so they gate on what is defined for any class
mix; ``cold`` bounds the ham false positive rate of unknown senders (as the quality gate
``SPAM_GATE_COLD_FPR_MAX`` does)."""
LOWER_IS_BETTER = frozenset({"ham_fpr"})
SHOWN_METRICS = ("n", "roc_auc", "f1", "precision", "recall", "accuracy", "ham_fpr")


class PromotionError(RuntimeError):
    """Nothing to promote, or the promotion was refused (see ``reasons``)."""


@dataclass
class EvalSlice:
    """E-mails, their labels and the reputation source both versions score them with."""

    name: str
    records: list[EmailRecord]
    y: np.ndarray
    reputation: ReputationSource
    note: str = ""


@dataclass
class ComparisonRow:
    slice: str
    metric: str
    candidate: float
    previous: float | None
    gated: bool
    """Whether this row takes part in the decision (a gated metric, defined on both sides, on a
    slice with enough rows)."""
    within: bool | None
    """Within the tolerance (None: not gated)."""

    @property
    def delta(self) -> float | None:
        return None if self.previous is None else self.candidate - self.previous


@dataclass
class Promotion:
    alias: str
    candidate: str
    previous: str | None
    promoted: bool
    reasons: list[str]
    candidate_metrics: dict[str, float]
    """On the ``test`` slice."""
    previous_metrics: dict[str, float] | None = None
    n_test: int = 0
    rows: list[ComparisonRow] = field(default_factory=list)
    slices: dict[str, dict[str, dict[str, float] | None]] = field(default_factory=dict)
    """slice -> {"candidate": metrics, "previous": metrics | None}."""
    notes: dict[str, str] = field(default_factory=dict)
    tolerance: float = 0.0
    shadow: ShadowSummary | None = None
    """Live traffic: the candidate's shadow rows beside production (``spam_trainer.shadow``)."""


def slice_metrics(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """``evaluate.classification_metrics`` plus ``ham_fpr`` (share of ham marked spam; NaN
    without ham) and ``roc_auc`` / ``pr_auc`` NaN where one class is missing."""
    out = classification_metrics(y, scores, threshold)
    ham = int(len(y) - np.asarray(y).astype(bool).sum())
    out["ham_fpr"] = out["fp"] / ham if ham else float("nan")
    return out


def _evaluate(ref: str, data: list[EvalSlice]) -> dict[str, dict[str, float]]:
    path, _ = resolve_model(ref)
    bundle = ModelBundle.load(path)
    return {
        s.name: slice_metrics(
            s.y, bundle.predict_records(s.records, s.reputation), bundle.threshold
        )
        for s in data
        if len(s.y)
    }


def feedback_records(url: str, since: datetime | None) -> tuple[list[EmailRecord], np.ndarray]:
    """The recent feedback slice: the feedback-labeled e-mails with content whose report time
    is after ``since``, each once with its label, by the one rule training reads the log with
    (``spam_trainer.feedback_data.read_feedback``)."""
    from spam_trainer.feedback_data import read_feedback

    emails, _ = read_feedback(url, since=since)
    return [e.record for e in emails], np.array(
        [e.label == "spam" for e in emails], dtype=np.float32
    )


def evaluation_slices(
    dataset_dir: Path,
    reputation: ReputationSource,
    *,
    feedback_url: str | None,
    feedback_since: datetime | None,
) -> list[EvalSlice]:
    """The same evaluation data for both versions: test split, recent feedback, cold start."""
    records, labels = read_records(dataset_dir, split="test")
    if not records:
        raise PromotionError(f"{dataset_dir}: the test split is empty")
    y = np.array([lab == "spam" for lab in labels], dtype=np.float32)
    since = (
        f"since {feedback_since.isoformat(timespec='seconds')}"
        if feedback_since
        else "(no production model: all of it)"
    )
    if feedback_url is None:
        fb_records, fb_y, note = [], np.zeros(0, np.float32), "no feedback log configured"
    else:
        try:
            fb_records, fb_y = feedback_records(feedback_url, feedback_since)
        except (OSError, ValueError) as exc:  # FeedbackDataError is a ValueError
            raise PromotionError(
                f"feedback log at {feedback_url}: {type(exc).__name__}: {exc}"
            ) from exc
        note = f"feedback-labeled e-mails with content {since} ({feedback_url})"
    return [
        EvalSlice("test", records, y, reputation, f"test split of {dataset_dir}"),
        EvalSlice("feedback", fb_records, fb_y, reputation, note),
        EvalSlice("cold", records, y, NoHistory(), "test split, reputation at unknown defaults"),
    ]


def _run_params(client, name: str, version: str) -> dict[str, str]:
    run_id = client.get_model_version(name, version).run_id
    return client.get_run(run_id).data.params if run_id else {}


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def compare(
    cand: dict[str, dict[str, float]],
    prev: dict[str, dict[str, float]] | None,
    tolerance: float,
    min_rows: int,
) -> list[ComparisonRow]:
    """The one promotion rule, row by row (see the module doc)."""
    rows = []
    for name in SLICE_NAMES:
        if name not in cand:
            continue
        enough = cand[name]["n"] >= min_rows
        for metric in SHOWN_METRICS:
            c = cand[name][metric]
            p = prev[name][metric] if prev is not None else None
            gated = metric in SLICE_GATES[name] and enough and _finite(c) and _finite(p)
            within = None
            if gated:
                worse = (c - p) if metric in LOWER_IS_BETTER else (p - c)
                within = worse <= tolerance + 1e-12
            rows.append(ComparisonRow(name, metric, c, p, gated, within))
    return rows


def _rounded(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: round(metrics[k], 6) if _finite(metrics[k]) else None for k in SHOWN_METRICS}


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
    feedback_url: str | None = None,
    shadow_url: str | None = None,
) -> Promotion:
    """Score both versions on the same slices (:func:`evaluation_slices`) and move the alias
    unless :func:`compare` finds a gated metric worse by more than the tolerance. The feedback
    slice reads ``feedback_url`` (default: the retrain policy's feedback log), the shadow slice
    ``shadow_url`` (default: ``SPAM_SHADOW_LOG_URL``, else ``$SPAM_HOME/shadow-logs``)."""
    import mlflow

    from spam_trainer.retrain import RetrainPolicy, production_model

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
    production = production_model(name)
    data = evaluation_slices(
        dataset_dir,
        reputation,
        feedback_url=feedback_url or RetrainPolicy().feedback_url(settings.home),
        # reported after the production model's training and after the candidate's training
        # feedback (spam_trainer.feedback_data): neither has seen these labels
        feedback_since=unseen_since(
            _run_params(client, name, candidate), production.trained_at if production else None
        ),
    )
    notes = {s.name: f"{len(s.y)} e-mails: {s.note}" for s in data}
    try:
        cand = _evaluate(f"models:/{name}/{candidate}", data)
        prev = _evaluate(f"models:/{name}/{previous}", data) if previous else None
    except ArtifactError as exc:
        raise PromotionError(str(exc)) from exc
    shadow = shadow_summary(
        shadow_url or settings.shadow_log_location(),
        production.trained_at if production else None,
        candidate,
        previous,
        feedback_url=feedback_url or RetrainPolicy().feedback_url(settings.home),
    )
    notes["shadow"] = shadow.note()
    if shadow.candidate_metrics is not None and shadow.previous_metrics is not None:
        cand["shadow"] = shadow.candidate_metrics
        if prev is not None:
            prev["shadow"] = shadow.previous_metrics
    n_test = int(cand["test"]["n"])
    rows = compare(cand, prev, tolerance, settings.promote_min_slice_rows)
    slices = {s: {"candidate": cand[s], "previous": prev[s] if prev else None} for s in cand}

    def result(promoted: bool, reasons: list[str]) -> Promotion:
        return Promotion(
            to,
            candidate,
            previous,
            promoted,
            reasons,
            cand["test"],
            prev["test"] if prev else None,
            n_test,
            rows,
            slices,
            notes,
            tolerance,
            shadow,
        )

    reasons: list[str] = []
    if previous == candidate:
        reasons.append(f"version {candidate} already holds alias {to!r}")
        return result(False, reasons)
    if prev is None:
        reasons.append(f"no current {to!r} version: first promotion")
    else:
        for row in rows:
            if row.within is False:
                reasons.append(
                    f"{row.slice} {row.metric} {row.candidate:.4f} vs {row.previous:.4f} "
                    f"(v{previous}): worse by {abs(row.delta):.4f} > tolerance {tolerance}"
                )
    promoted = not any(r.within is False for r in rows)
    if unpublished:
        reasons.append(f"not published, promotion would be refused: {unpublished}")
        promoted = False
    if promoted and prev is not None:
        gated = sorted({f"{r.slice}:{r.metric}" for r in rows if r.gated})
        reasons.append(
            f"no gated metric ({', '.join(gated)}) worse by more than {tolerance} vs "
            f"v{previous} on the same e-mails"
        )
    if not dry_run:
        record = json.dumps(
            {
                "to": to,
                "previous": previous,
                "tolerance": tolerance,
                "n_test": n_test,
                "candidate": {k: round(cand["test"][k], 6) for k in GATED_METRICS},
                "previous_metrics": None
                if prev is None
                else {k: round(prev["test"][k], 6) for k in GATED_METRICS},
                "slices": {
                    s: {
                        "candidate": _rounded(v["candidate"]),
                        "previous": None if v["previous"] is None else _rounded(v["previous"]),
                    }
                    for s, v in slices.items()
                },
                "shadow": shadow.record(),
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
    return result(promoted, reasons)
