"""Fit the feature artifacts on the training split (scikit-learn fits; plain JSON is kept)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from spam_core.artifacts import FeatureArtifacts, FeatureStats, FitInfo, TfidfParams
from spam_core.features import FeatureExtractor, ReputationSource
from spam_core.features.spec import N_TFIDF, feature_names
from spam_core.features.text import document_text
from spam_core.ingest import load_manifest, read_records
from spam_core.message.record import EmailRecord

TOKEN_PATTERN = r"(?u)\b[^\W\d_]\w+\b"
"""Words of two or more characters starting with a letter (no pure numbers: dates and
amounts are covered by engineered features and would otherwise fill the vocabulary)."""


def make_vectorizer(*, min_df: int | float = 2, max_df: float = 0.95) -> TfidfVectorizer:
    """The scikit-learn vectorizer whose fit becomes the artifact (also used by parity tests)."""
    return TfidfVectorizer(
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        stop_words="english",
        max_features=N_TFIDF,
        sublinear_tf=True,
        norm="l2",
        min_df=min_df,
        max_df=max_df,
        dtype=np.float64,
    )


def fit_vectorizer(records: Sequence[EmailRecord], **kwargs) -> TfidfVectorizer:
    vectorizer = make_vectorizer(**kwargs)
    try:
        vectorizer.fit([document_text(r) for r in records])
    except ValueError as exc:  # "After pruning, no terms remain" and the like
        raise ValueError(
            f"cannot fit the vocabulary on {len(records)} training e-mails: {exc} "
            f"({N_TFIDF} terms are needed; use a larger corpus)"
        ) from exc
    if len(vectorizer.vocabulary_) != N_TFIDF:
        raise ValueError(
            f"the training split yields only {len(vectorizer.vocabulary_)} terms with "
            f"document frequency in range; {N_TFIDF} terms are needed (use a larger corpus)"
        )
    return vectorizer


def tfidf_params(vectorizer: TfidfVectorizer) -> TfidfParams:
    vocabulary = [t for t, _ in sorted(vectorizer.vocabulary_.items(), key=lambda kv: kv[1])]
    return TfidfParams(
        token_pattern=vectorizer.token_pattern,
        lowercase=vectorizer.lowercase,
        sublinear_tf=vectorizer.sublinear_tf,
        norm=vectorizer.norm,
        vocabulary=vocabulary,
        idf=[float(v) for v in vectorizer.idf_],
    )


def feature_stats(matrix: np.ndarray, names: Sequence[str]) -> dict[str, FeatureStats]:
    m = matrix.astype(np.float64)
    return {
        name: FeatureStats(
            mean=float(m[:, j].mean()),
            std=float(m[:, j].std()),
            min=float(m[:, j].min()),
            max=float(m[:, j].max()),
            nonzero_fraction=float(np.count_nonzero(m[:, j]) / len(m)),
        )
        for j, name in enumerate(names)
    }


def fit_features(
    dataset_dir: str | Path,
    reputation: ReputationSource,
    *,
    min_df: int | float = 2,
    max_df: float = 0.95,
) -> FeatureArtifacts:
    """Fit on the ``train`` split of an ingested dataset only (``reputation`` gives the train
    e-mails' point-in-time history, for the statistics of the reputation columns)."""
    manifest = load_manifest(dataset_dir)
    records, _ = read_records(dataset_dir, split="train")
    if not records:
        raise ValueError(f"{dataset_dir}: the train split is empty")
    return fit_on_records(
        records,
        reputation,
        FitInfo(
            dataset=str(dataset_dir),
            dataset_fingerprint=manifest.fingerprint,
            n_documents=len(records),
        ),
        min_df=min_df,
        max_df=max_df,
    )


def fit_on_records(
    records: Sequence[EmailRecord],
    reputation: ReputationSource,
    fitted_on: FitInfo,
    *,
    min_df: int | float = 2,
    max_df: float = 0.95,
) -> FeatureArtifacts:
    """Fit on exactly ``records`` (``fit_features``' training split, or the training side of
    another split such as the sender-disjoint evaluation's)."""
    vectorizer = fit_vectorizer(records, min_df=min_df, max_df=max_df)
    params = tfidf_params(vectorizer)
    names = feature_names(params.vocabulary)
    draft = FeatureArtifacts(
        created_at=datetime.now(UTC),
        fitted_on=fitted_on,
        feature_names=names,
        tfidf=params,
    )
    matrix = FeatureExtractor(draft).transform_records(records, reputation)
    return draft.model_copy(update={"stats": feature_stats(matrix, names)})
