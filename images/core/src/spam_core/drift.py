"""Drift baselines: the training distributions that live inference is compared against.

For every feature: bin edges and reference frequencies (for PSI), and a quantile summary (for
KS); for the model: the score distribution and the spam rate. Stored as JSON next to the model
(``drift_baseline.json`` in the bundle) so each model version carries its own reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spam_core.scoring import spam_mask

N_BINS = 10
N_QUANTILES = 101
EPS = 1e-6


class FeatureBaseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    edges: list[float] = Field(description="Inner bin edges; bins are (-inf, e0], (e0, e1], …")
    frequencies: list[float] = Field(description="Reference share of rows per bin (sums to 1).")
    quantiles: list[float] = Field(description=f"{N_QUANTILES} quantiles (0, 1%, …, 100%).")
    mean: float
    std: float
    zero_fraction: float


class ScoreBaseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    split: str
    edges: list[float]
    frequencies: list[float]
    quantiles: list[float]
    mean: float
    predicted_spam_rate: float


class DriftBaseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["spam-platform/drift-baseline"] = "spam-platform/drift-baseline"
    schema_version: Literal[1] = 1
    created_at: datetime
    feature_set: str
    features_fingerprint: str
    n_rows: int
    spam_rate: float = Field(description="Labelled spam share of the training split.")
    threshold: float
    features: dict[str, FeatureBaseline]
    score: ScoreBaseline


def _edges(values: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Quantile bin edges, de-duplicated (sparse TF-IDF columns collapse to few bins)."""
    qs = np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(qs)


def bin_frequencies(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Share of ``values`` per bin ``(-inf, e0], (e0, e1], …, (e_last, inf)``."""
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    return counts / max(len(values), 1)


def psi(reference: Sequence[float], current: Sequence[float], eps: float = EPS) -> float:
    """Population stability index between two bin-frequency vectors."""
    ref = np.clip(np.asarray(reference, dtype=np.float64), eps, None)
    cur = np.clip(np.asarray(current, dtype=np.float64), eps, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _summary(values: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    edges = _edges(values)
    freqs = bin_frequencies(values, edges)
    quantiles = np.quantile(values, np.linspace(0, 1, N_QUANTILES))
    return edges.tolist(), freqs.tolist(), quantiles.tolist()


def build_baseline(
    matrix: np.ndarray,
    feature_names: Sequence[str],
    *,
    labels: np.ndarray,
    scores: np.ndarray,
    score_split: str,
    threshold: float,
    feature_set: str,
    features_fingerprint: str,
    created_at: datetime,
    columns: Mapping[str, np.ndarray] | None = None,
) -> DriftBaseline:
    """Baseline from the training feature matrix and held-out model scores.

    ``columns``: feature name -> the values to summarize instead of the matrix column, for a
    feature whose training values are not what serving sees (the reputation: point-in-time
    in training, end-of-history totals in serving).

    Values are summarized as float32, what serving's vectors and the inference log hold: a
    float64 reference puts edges between a value and its own float32 rounding (log1p(359)
    logged by the gateway landed above the float64 edge log1p(359), in an empty bin: PSI 2.3
    for an identical distribution)."""
    m = np.asarray(matrix, dtype=np.float32).astype(np.float64)
    columns = dict(columns or {})
    unknown = set(columns) - set(feature_names)
    if unknown:
        raise ValueError(f"baseline columns {sorted(unknown)} are not features")
    features = {}
    for j, name in enumerate(feature_names):
        col = (
            np.asarray(columns[name], dtype=np.float32).astype(np.float64)
            if name in columns
            else m[:, j]
        )
        edges, freqs, quantiles = _summary(col)
        features[name] = FeatureBaseline(
            edges=edges,
            frequencies=freqs,
            quantiles=quantiles,
            mean=float(col.mean()),
            std=float(col.std()),
            zero_fraction=float(np.mean(col == 0)),
        )
    s = np.asarray(scores, dtype=np.float64)
    score_edges = np.linspace(0.0, 1.0, N_BINS + 1)[1:-1]
    score = ScoreBaseline(
        split=score_split,
        edges=score_edges.tolist(),
        frequencies=bin_frequencies(s, score_edges).tolist(),
        quantiles=np.quantile(s, np.linspace(0, 1, N_QUANTILES)).tolist(),
        mean=float(s.mean()),
        predicted_spam_rate=float(np.mean(spam_mask(s, threshold))),
    )
    return DriftBaseline(
        created_at=created_at,
        feature_set=feature_set,
        features_fingerprint=features_fingerprint,
        n_rows=len(m),
        spam_rate=float(np.mean(labels)),
        threshold=threshold,
        features=features,
        score=score,
    )
