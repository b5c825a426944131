"""Per-prediction explanations: which features pushed one e-mail's score, and by how much.

XGBoost's TreeSHAP (``Booster.predict(..., pred_contribs=True)``) on the model's own XGBoost
file (``xgboost.json`` of the bundle, the same trees the ONNX graph was exported from): one
signed contribution per feature, in log-odds (margin) units, plus a bias. By construction
``bias + sum(contributions) == margin`` and ``sigmoid(margin)`` is the spam probability, so
an explanation adds up to the score it explains (tested).

Reputation is explained relative to an unknown sender. Plain TreeSHAP measures each feature
against the training average, and the reputation trees were trained on e-mails *with*
history, so an unknown sender's default rates came out as strong "ham" evidence (−1.9 in
log-odds) although the model gives them exactly 0 (:mod:`spam_trainer.coldstart` centres the
reputation trees at the defaults). :meth:`Explainer.contributions` therefore reports each
reputation column as ``φ_j(x) − φ_j(x₀)``, where ``x₀`` is ``x`` with the reputation block at
its unknown defaults, and moves ``Σ φ_j(x₀)`` into the bias: the sum is still the margin,
an unknown sender's reputation contributes exactly 0, and a known sender's shows what its
history adds or removes.

Names are made readable once, here (:func:`describe_feature`): a TF-IDF column is its
vocabulary term, an engineered or reputation column its spec name and meaning.

Needs ``xgboost`` (spam-core's ``explain`` extra); nothing else in spam_core imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spam_core.errors import ArtifactError
from spam_core.features.reputation import no_history, reputation_features
from spam_core.features.spec import ENGINEERED, LINEAR, N_CONTENT, N_FEATURES, REPUTATION

DEFAULT_TOP = 10
MAX_TOP = 50

_DESCRIPTIONS = {f.name: f.description for f in ENGINEERED + LINEAR + REPUTATION}
_REPUTATION = {f.name for f in REPUTATION}
UNKNOWN_SENDER = reputation_features(no_history(1))[0].astype(np.float32)
"""The reputation block of an e-mail whose sender and domain have no history: the reference
reputation contributions are measured from."""


def describe_feature(name: str) -> dict[str, str]:
    """A vector column's name -> ``{"feature", "kind", "label"}`` for people.

    ``kind``: ``term`` (TF-IDF), ``content`` (engineered, and the linear text margin: the
    character n-grams' combined evidence) or ``reputation``.
    """
    if name.startswith("tfidf:"):
        term = name.removeprefix("tfidf:")
        return {"feature": name, "kind": "term", "label": f'the word "{term}"'}
    kind = "reputation" if name in _REPUTATION else "content"
    return {"feature": name, "kind": kind, "label": _DESCRIPTIONS.get(name, name)}


@dataclass(frozen=True, slots=True)
class Explanation:
    """One e-mail: margin = bias + sum of all contributions (log-odds of spam)."""

    margin: float
    bias: float
    top: list[dict[str, Any]]
    """The ``k`` largest contributions by absolute value: feature, kind, label, value (the
    feature's value in the vector) and contribution (signed: > 0 pushes towards spam)."""

    def as_dict(self) -> dict[str, Any]:
        return {"margin": self.margin, "bias": self.bias, "top": self.top}


class Explainer:
    """TreeSHAP contributions of one model (its XGBoost JSON) over named vector columns."""

    def __init__(self, xgboost_json: bytes, feature_names: Sequence[str]) -> None:
        try:
            import xgboost as xgb
        except ImportError as exc:  # pragma: no cover - image without the extra
            raise ArtifactError("explanations need xgboost (spam-core[explain])") from exc
        if len(feature_names) != N_FEATURES:
            raise ArtifactError(
                f"explanations need the {N_FEATURES} feature names, got {len(feature_names)}"
            )
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(xgboost_json))
        except xgb.core.XGBoostError as exc:
            raise ArtifactError(f"cannot load the XGBoost model: {exc}") from None
        if booster.num_features() != N_FEATURES:
            raise ArtifactError(
                f"the XGBoost model takes {booster.num_features()} features, "
                f"the vector has {N_FEATURES}"
            )
        booster.set_param({"nthread": 1})
        self._xgb = xgb
        self.booster = booster
        self.feature_names = list(feature_names)
        self._described = [describe_feature(n) for n in self.feature_names]

    def _treeshap(self, matrix: np.ndarray) -> np.ndarray:
        dm = self._xgb.DMatrix(matrix, missing=np.nan)
        return np.asarray(self.booster.predict(dm, pred_contribs=True), dtype=np.float64)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """(n, N_FEATURES + 1) float64: per-feature contributions, the bias last; reputation
        columns relative to an unknown sender (module docstring)."""
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[1] != N_FEATURES:
            raise ValueError(f"expected (n, {N_FEATURES}) features, got {list(matrix.shape)}")
        out = self._treeshap(matrix)
        unknown = matrix.copy()
        unknown[:, N_CONTENT:] = UNKNOWN_SENDER
        at_unknown = self._treeshap(unknown)[:, N_CONTENT:N_FEATURES]
        out[:, N_CONTENT:N_FEATURES] -= at_unknown
        out[:, -1] += at_unknown.sum(axis=1)
        return out

    def explain(self, matrix: np.ndarray, top: int = DEFAULT_TOP) -> list[Explanation]:
        if not 1 <= top <= MAX_TOP:
            raise ValueError(f"top must be 1..{MAX_TOP}, got {top}")
        matrix = np.asarray(matrix, dtype=np.float32)
        contribs = self.contributions(matrix)
        out = []
        for row, values in zip(contribs, matrix, strict=True):
            features, bias = row[:-1], float(row[-1])
            order = np.argsort(-np.abs(features), kind="stable")[:top]
            out.append(
                Explanation(
                    margin=float(bias + features.sum()),
                    bias=bias,
                    top=[
                        {
                            **self._described[j],
                            "value": float(values[j]),
                            "contribution": float(features[j]),
                        }
                        for j in order
                        if features[j] != 0.0
                    ],
                )
            )
        return out
