"""One model version's rows against its baseline: per-feature tests, score, spam rate, verdict.

A feature **drifts** when its PSI reaches ``psi`` or its KS test is significant after the
Benjamini–Hochberg correction (adjusted p < ``ks_alpha``) with a statistic of at least
``ks_min_statistic`` (with a million rows any difference is significant; the effect size keeps
trivia out). The **score** drifts by the same rule on its own distribution. A version's
verdict is drift when the share of drifted features reaches ``feature_share``, the score
drifts, or the predicted spam rate moved by ``spam_rate_delta`` or more. The **aggregate drift
score** is the share of drifted signals (the features and the score), 0 to 1. Below
``min_rows`` rows there is no verdict: ``not_enough_data``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from spam_core.drift import DriftBaseline
from spam_core.features.spec import REPUTATION_NAMES
from spam_drift.stats import bh_adjust, ks_against_quantiles, psi_against_bins


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_rows: int = Field(500, ge=1, description="Fewest rows of a version for a verdict.")
    psi: float = Field(0.2, gt=0, description="PSI at which a feature (or the score) drifts.")
    ks_alpha: float = Field(
        0.01, gt=0, lt=1, description="Significance of the BH-adjusted KS p-values."
    )
    ks_min_statistic: float = Field(
        0.1, ge=0, le=1, description="Smallest KS statistic that counts as drift."
    )
    feature_share: float = Field(
        0.2, gt=0, le=1, description="Share of drifted features that makes a drift verdict."
    )
    spam_rate_delta: float = Field(
        0.15, gt=0, le=1, description="Absolute change of the predicted spam rate that drifts."
    )


class SignalStats(BaseModel):
    """One tested signal: a feature, or the score (``spam_probability``)."""

    name: str
    kind: Literal["engineered", "reputation", "score"]
    rows: int
    null_fraction: float
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    ks_pvalue_adjusted: float | None = None
    mean: float | None = None
    reference_mean: float
    drifted: bool = False
    reasons: list[str] = Field(default_factory=list)


class SpamRate(BaseModel):
    current: float
    reference: float
    delta: float
    drifted: bool


class VersionResult(BaseModel):
    model_name: str
    model_version: str
    status: Literal["ok", "not_enough_data", "no_baseline"]
    message: str | None = None
    rows: int
    drift_detected: bool = False
    drift_score: float | None = None
    drifted_features: list[str] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    score: SignalStats | None = None
    spam_rate: SpamRate | None = None
    features: list[SignalStats] = Field(default_factory=list)
    baseline: dict[str, object] = Field(default_factory=dict)


def _column(table: pa.Table, name: str) -> tuple[np.ndarray, float]:
    """Non-null values as float64, and the null share."""
    if name not in table.column_names or table.num_rows == 0:
        return np.zeros(0), 1.0
    col = table.column(name)
    values = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    values = values[~np.isnan(values)]
    return values, 1.0 - len(values) / table.num_rows


def _signal(
    name: str,
    kind: Literal["engineered", "reputation", "score"],
    values: np.ndarray,
    null_fraction: float,
    edges: list[float],
    frequencies: list[float],
    quantiles: list[float],
    reference_mean: float,
    n_reference: int,
) -> SignalStats:
    stats = SignalStats(
        name=name,
        kind=kind,
        rows=len(values),
        null_fraction=round(null_fraction, 6),
        reference_mean=reference_mean,
    )
    if len(values) == 0:
        stats.reasons.append("no values (all null)")
        return stats
    ks = ks_against_quantiles(values, quantiles, n_reference)
    stats.psi = psi_against_bins(values, edges, frequencies)
    stats.ks_statistic = ks.statistic
    stats.ks_pvalue = ks.pvalue
    stats.mean = float(values.mean())
    return stats


def _judge(stats: SignalStats, thresholds: Thresholds) -> None:
    if stats.psi is None:
        return
    if stats.psi >= thresholds.psi:
        stats.reasons.append(f"PSI {stats.psi:.3f} >= {thresholds.psi}")
    p_adj = stats.ks_pvalue_adjusted
    if (
        p_adj is not None
        and p_adj < thresholds.ks_alpha
        and (stats.ks_statistic or 0.0) >= thresholds.ks_min_statistic
    ):
        stats.reasons.append(
            f"KS {stats.ks_statistic:.3f} (adjusted p {p_adj:.2g} < {thresholds.ks_alpha})"
        )
    stats.drifted = bool(stats.reasons)


def analyse_version(
    table: pa.Table,
    model_name: str,
    model_version: str,
    baseline: DriftBaseline,
    features: list[str],
    thresholds: Thresholds,
) -> VersionResult:
    """``table``: this version's rows of the window."""
    rows = table.num_rows
    result = VersionResult(
        model_name=model_name,
        model_version=model_version,
        status="ok",
        rows=rows,
        baseline={
            "created_at": baseline.created_at.isoformat(),
            "feature_set": baseline.feature_set,
            "rows": baseline.n_rows,
            "threshold": baseline.threshold,
            "score_split": baseline.score.split,
        },
    )
    if rows < thresholds.min_rows:
        result.status = "not_enough_data"
        result.message = f"{rows} rows, fewer than the {thresholds.min_rows} a verdict needs"
        return result

    signals: list[SignalStats] = []
    for name in features:
        ref = baseline.features.get(name)
        if ref is None:
            continue
        values, nulls = _column(table, name)
        signals.append(
            _signal(
                name,
                "reputation" if name in REPUTATION_NAMES else "engineered",
                values,
                nulls,
                ref.edges,
                ref.frequencies,
                ref.quantiles,
                ref.mean,
                baseline.n_rows,
            )
        )
    values, nulls = _column(table, "spam_probability")
    score_ref = baseline.score
    score = _signal(
        "spam_probability",
        "score",
        values,
        nulls,
        score_ref.edges,
        score_ref.frequencies,
        score_ref.quantiles,
        score_ref.mean,
        baseline.n_rows,
    )
    tested = [s for s in [*signals, score] if s.ks_pvalue is not None]
    for s, p in zip(tested, bh_adjust([s.ks_pvalue for s in tested]), strict=True):
        s.ks_pvalue_adjusted = p
    for s in [*signals, score]:
        _judge(s, thresholds)

    spam = pc.sum(pc.equal(table.column("prediction"), "spam")).as_py() or 0
    current_rate = spam / rows
    delta = current_rate - score_ref.predicted_spam_rate
    rate = SpamRate(
        current=current_rate,
        reference=score_ref.predicted_spam_rate,
        delta=delta,
        drifted=abs(delta) >= thresholds.spam_rate_delta,
    )

    drifted = [s.name for s in signals if s.drifted]
    share = len(drifted) / len(signals) if signals else 0.0
    reasons = []
    if signals and share >= thresholds.feature_share:
        reasons.append(
            f"{len(drifted)} of {len(signals)} features drifted "
            f"({share:.0%} >= {thresholds.feature_share:.0%}): {', '.join(drifted)}"
        )
    if score.drifted:
        reasons.append(f"score distribution drifted: {'; '.join(score.reasons)}")
    if rate.drifted:
        reasons.append(
            f"predicted spam rate {current_rate:.1%} vs {rate.reference:.1%} in training "
            f"(|delta| >= {thresholds.spam_rate_delta:.0%})"
        )
    n_signals = len(signals) + 1
    result.features = signals
    result.score = score
    result.spam_rate = rate
    result.drifted_features = drifted
    result.drift_score = (len(drifted) + int(score.drifted)) / n_signals
    result.reasons = reasons
    result.drift_detected = bool(reasons)
    return result
