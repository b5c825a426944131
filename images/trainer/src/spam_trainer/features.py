"""Fit the feature artifacts on the training split (scikit-learn fits; plain JSON is kept).

Two fitted parts: the TF-IDF block's vocabulary and IDF (the 500 most frequent terms), and
the linear text model behind ``text_linear_margin`` (a logistic regression over the TF-IDF
of the hashed character 3-5-grams of the training split; per bucket its document frequency
and coefficient, and the intercept). The linear model has seen the labels of the training split, so
its margin on a training e-mail is optimistic: rows the trees train on get **cross-fitted**
margins instead (:func:`cross_fitted_margins`: the e-mail's margin from a linear model fitted
on the other folds; :func:`training_matrices`), which is what the model meets when serving
mail it has not seen. Training and the sender-disjoint evaluation build their training
matrices that way; validation, test and serving use the fitted model as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from spam_core.artifacts import (
    FeatureArtifacts,
    FeatureStats,
    FitInfo,
    LinearParams,
    PackedArray,
    TfidfParams,
)
from spam_core.features import FeatureExtractor, ReputationSource
from spam_core.features.linear import LinearMargin, bucket_counts
from spam_core.features.spec import LINEAR_COLUMN, N_TFIDF, feature_names
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


LINEAR_C = 10.0
"""Inverse L2 regularization of the linear text model (``tests.benchmarks content_model``
compared 1, 10 and 100 for the word margin and chose 10 for character n-grams)."""
LINEAR_BITS = 20
"""Hash buckets of the character n-grams: 2^20 (about 420,000 of them seen in training);
2^18 buckets, or keeping only buckets in two or more e-mails, lost part of the recall
(README, training section)."""
LINEAR_NGRAMS = (3, 5)
LINEAR_FOLDS = 5
"""Folds of the cross-fitted training margins."""
LINEAR_SEED = 42


def _linear_lr(c: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=seed)


def _document_frequency(records: Sequence[EmailRecord]) -> np.ndarray:
    """Per bucket (all ``2 ** LINEAR_BITS``), the number of ``records`` with an n-gram in it:
    counted by the serving code (:func:`spam_core.features.linear.bucket_counts`)."""
    _, bucket, _ = bucket_counts([document_text(r) for r in records], *LINEAR_NGRAMS, LINEAR_BITS)
    return np.bincount(bucket, minlength=2**LINEAR_BITS)


def linear_design(params: LinearParams, records: Sequence[EmailRecord]) -> sparse.csr_matrix:
    """The linear model's TF-IDF rows of ``records``, computed by the serving transform;
    column ``j`` is the ``j``-th of ``params``' buckets (a bucket it does not hold has no
    coefficient: it is left out, after counting in the row's norm as serving does)."""
    buckets = params.bucket_ids()
    doc, bucket, w = LinearMargin(params).weights([document_text(r) for r in records])
    pos = np.searchsorted(buckets, bucket)
    known = pos < buckets.size
    known[known] = buckets[pos[known]] == bucket[known]
    return sparse.csr_matrix(
        (w[known], (doc[known], pos[known])), shape=(len(records), buckets.size)
    )


def fit_linear(
    records: Sequence[EmailRecord],
    y: np.ndarray,
    *,
    c: float = LINEAR_C,
    folds: int = LINEAR_FOLDS,
    seed: int = LINEAR_SEED,
) -> LinearParams:
    """The linear text model on ``records`` in both forms (raw and API fields, as the trees
    are trained), labels ``y`` (1 = spam): the document frequencies are counted over the raw
    form (as the TF-IDF block's), the buckets kept are those either form has."""
    from spam_trainer.slices import field_form

    df = _document_frequency(records)
    seen = _document_frequency([field_form(r) for r in records])
    buckets = np.flatnonzero((df > 0) | (seen > 0)).astype(np.uint32)
    draft = LinearParams(
        ngram_range=LINEAR_NGRAMS,
        hash_bits=LINEAR_BITS,
        n_documents=len(records),
        buckets=PackedArray.pack(buckets, "<u4", delta=True),
        document_frequency=PackedArray.pack(df[buckets], "<u4"),
        coef=PackedArray.pack(np.zeros(buckets.size), "<f4"),
        intercept=0.0,
        regularization_c=c,
        cross_fit_folds=folds,
        cross_fit_seed=seed,
    )
    both = sparse.vstack(
        [linear_design(draft, records), linear_design(draft, [field_form(r) for r in records])]
    ).tocsr()
    y = np.asarray(y, dtype=np.float64)
    model = _linear_lr(c, seed).fit(both, np.concatenate([y, y]))
    return draft.model_copy(
        update={
            "coef": PackedArray.pack(model.coef_[0], "<f4"),
            "intercept": float(model.intercept_[0]),
        }
    )


_CROSS_FITTED: dict[str, np.ndarray] = {}
"""Cross-fitted margins by (model, e-mails, labels): ``train`` asks for the same ones twice."""


def cross_fitted_margins(
    params: LinearParams, records: Sequence[EmailRecord], y: np.ndarray
) -> np.ndarray:
    """(n, 2): each training e-mail's linear margin in the raw and the field form, from a
    linear model (the vocabulary and IDF of ``params``, its ``regularization_c``) fitted on
    the other ``cross_fit_folds`` - 1 folds of ``records``, both forms."""
    from spam_trainer.slices import field_form

    y = np.asarray(y, dtype=np.float64)
    key = hashlib.sha256(
        params.model_dump_json().encode()
        + "\0".join(r.email_id for r in records).encode()
        + y.tobytes()
    ).hexdigest()
    if key in _CROSS_FITTED:
        return _CROSS_FITTED[key].copy()
    raw = linear_design(params, records)
    fields = linear_design(params, [field_form(r) for r in records])
    out = np.zeros((len(records), 2), dtype=np.float64)
    split = StratifiedKFold(
        params.cross_fit_folds, shuffle=True, random_state=params.cross_fit_seed
    )
    for fit_idx, held_idx in split.split(np.zeros(len(y)), y):
        model = _linear_lr(params.regularization_c, params.cross_fit_seed).fit(
            sparse.vstack([raw[fit_idx], fields[fit_idx]]).tocsr(),
            np.concatenate([y[fit_idx], y[fit_idx]]),
        )
        out[held_idx, 0] = model.decision_function(raw[held_idx])
        out[held_idx, 1] = model.decision_function(fields[held_idx])
    _CROSS_FITTED.clear()
    _CROSS_FITTED[key] = out
    return out.copy()


def training_matrices(
    extractor: FeatureExtractor,
    records: Sequence[EmailRecord],
    y: np.ndarray,
    reputation: ReputationSource,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrices of training e-mails in the raw and the field form, with the linear
    margin cross-fitted (the module docstring says why)."""
    from spam_trainer.slices import field_form

    raw = extractor.transform_records(records, reputation)
    fields = extractor.transform_records([field_form(r) for r in records], reputation)
    margins = cross_fitted_margins(extractor.artifacts.linear, records, y).astype(np.float32)
    raw[:, LINEAR_COLUMN] = margins[:, 0]
    fields[:, LINEAR_COLUMN] = margins[:, 1]
    return raw, fields


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
    records, labels = read_records(dataset_dir, split="train")
    if not records:
        raise ValueError(f"{dataset_dir}: the train split is empty")
    if any(lab is None for lab in labels):
        raise ValueError(
            f"{dataset_dir}: the train split has unlabeled messages; the linear text model "
            "needs labels (SpamAssassin layout or ingest --label)"
        )
    return fit_on_records(
        records,
        np.array([lab == "spam" for lab in labels], dtype=np.float32),
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
    y: np.ndarray,
    reputation: ReputationSource,
    fitted_on: FitInfo,
    *,
    min_df: int | float = 2,
    max_df: float = 0.95,
) -> FeatureArtifacts:
    """Fit on exactly ``records`` with labels ``y`` (1 = spam): ``fit_features``' training
    split, or the training side of another split such as the sender-disjoint evaluation's.
    The statistics are those of the training matrix (raw form, cross-fitted linear margin)."""
    y = np.asarray(y, dtype=np.float32)
    if len(y) != len(records):
        raise ValueError(f"{len(records)} e-mails but {len(y)} labels")
    vectorizer = fit_vectorizer(records, min_df=min_df, max_df=max_df)
    if len(set(y.tolist())) < 2:
        raise ValueError("the linear text model needs spam and ham in the training e-mails")
    params = tfidf_params(vectorizer)
    names = feature_names(params.vocabulary)
    draft = FeatureArtifacts(
        created_at=datetime.now(UTC),
        fitted_on=fitted_on,
        feature_names=names,
        tfidf=params,
        linear=fit_linear(records, y),
    )
    matrix, _ = training_matrices(FeatureExtractor(draft), records, y, reputation)
    return draft.model_copy(update={"stats": feature_stats(matrix, names)})
