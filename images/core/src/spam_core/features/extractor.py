"""E-mail record(s) -> float32 feature vectors, from fitted artifacts and a reputation source.

``transform_record`` (one e-mail, the serving path) and ``transform_records`` (vectorized
batch path, training and batch scoring) return bit-identical rows; a test holds them to it.
Both need a :class:`~spam_core.features.reputation.ReputationSource` (point-in-time statistics
in training, the Feast online store when serving): it is an argument, not an option, so no
path can leave the reputation block out by forgetting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from spam_core.features.engineered import engineered_features
from spam_core.features.linear import LinearMargin
from spam_core.features.reputation import ReputationSource, reputation_features
from spam_core.features.spec import LINEAR_COLUMN, N_CONTENT, N_FEATURES, N_TFIDF
from spam_core.features.text import document_text
from spam_core.features.tfidf import TfidfTransform
from spam_core.message.parse import parse_raw
from spam_core.message.record import EmailRecord

if TYPE_CHECKING:
    from spam_core.artifacts import FeatureArtifacts


class FeatureExtractor:
    """The one implementation of the feature vector, used everywhere."""

    n_features = N_FEATURES

    def __init__(self, artifacts: FeatureArtifacts) -> None:
        p = artifacts.tfidf
        self.artifacts = artifacts
        self.feature_names: list[str] = list(artifacts.feature_names)
        self.tfidf = TfidfTransform(
            p.vocabulary,
            p.idf,
            p.token_pattern,
            lowercase=p.lowercase,
            sublinear_tf=p.sublinear_tf,
            norm=p.norm,
        )
        self.linear = LinearMargin(artifacts.linear)

    @property
    def fingerprint(self) -> str:
        return self.artifacts.fingerprint

    def _lowered(self, prepared: str) -> str | None:
        # engineered features read the lower-cased document; reuse it when TF-IDF made it
        return prepared if self.tfidf.lowercase else None

    def transform_record(self, record: EmailRecord, reputation: ReputationSource) -> np.ndarray:
        """One record -> vector of shape (N_FEATURES,), float32."""
        out = np.zeros(N_FEATURES, dtype=np.float64)
        doc = document_text(record)
        prepared = self.tfidf.prepare(doc)
        self.tfidf.transform_one(prepared, out)
        out[N_TFIDF:LINEAR_COLUMN] = engineered_features(record, self._lowered(prepared))
        out[LINEAR_COLUMN] = self.linear.margin(doc)
        out[N_CONTENT:] = reputation_features(reputation.stats((record,)))[0]
        return out.astype(np.float32)

    def transform_records(
        self, records: Sequence[EmailRecord], reputation: ReputationSource
    ) -> np.ndarray:
        """Records -> matrix of shape (n, N_FEATURES), float32."""
        out = np.zeros((len(records), N_FEATURES), dtype=np.float64)
        if not records:
            return out.astype(np.float32)
        docs = [document_text(r) for r in records]
        prepared = [self.tfidf.prepare(d) for d in docs]
        self.tfidf.transform_batch(prepared, out[:, :N_TFIDF])
        for i, (r, p) in enumerate(zip(records, prepared, strict=True)):
            out[i, N_TFIDF:LINEAR_COLUMN] = engineered_features(r, self._lowered(p))
        out[:, LINEAR_COLUMN] = self.linear.margins(docs)
        out[:, N_CONTENT:] = reputation_features(reputation.stats(records))
        return out.astype(np.float32)

    def transform_raw(
        self, raw: bytes | str, reputation: ReputationSource, email_id: str | None = None
    ) -> np.ndarray:
        """Raw RFC 822 message -> vector (parse + transform)."""
        return self.transform_record(parse_raw(raw, email_id), reputation)
