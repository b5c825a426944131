"""The linear text margin (``text_linear_margin``): a fitted logistic regression over the
TF-IDF of a large word vocabulary, evaluated as one feature column.

The trees see 500 TF-IDF terms; a linear model can weigh every word of the training split
(tens of thousands) at the cost of one dictionary lookup per word. Its margin (log-odds) is
stacked under the trees as one column, so the model stays one XGBoost graph (one ONNX model
per version) and the transformer computes it with the other features.

The margin is ``intercept + sum(coef[j] * tfidf[j])`` over the document's non-zero TF-IDF
columns (:meth:`TfidfTransform.sparse_one`, the same exact transform as the TF-IDF block),
summed with ``math.fsum`` (exactly rounded: independent of order), so the single and the batch
path give the same bits, and it equals scikit-learn's ``LogisticRegression.decision_function``
on ``TfidfVectorizer`` output (a test compares them).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from spam_core.features.tfidf import TfidfTransform

if TYPE_CHECKING:
    from spam_core.artifacts import LinearParams


class LinearMargin:
    """``text_linear_margin`` of a prepared (lower-cased when configured) document."""

    __slots__ = ("_coef", "_intercept", "tfidf")

    def __init__(self, params: LinearParams) -> None:
        self.tfidf = TfidfTransform(
            params.vocabulary,
            params.idf,
            params.token_pattern,
            lowercase=params.lowercase,
            sublinear_tf=params.sublinear_tf,
            norm=params.norm,
        )
        self._coef = [float(c) for c in params.coef]
        self._intercept = float(params.intercept)

    def margin(self, prepared: str) -> float:
        cols, weights = self.tfidf.sparse_one(prepared)
        coef = self._coef
        return math.fsum(
            [self._intercept, *(w * coef[j] for j, w in zip(cols, weights, strict=True))]
        )
