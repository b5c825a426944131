"""The linear text margin (``text_linear_margin``): scikit-learn's numbers, the artifact's
checks, and the readable name explanations give it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from spam_core import artifacts
from spam_core.errors import ArtifactError
from spam_core.explain import describe_feature
from spam_core.features import LINEAR_COLUMN, NoHistory
from spam_core.features.linear import LinearMargin
from spam_core.features.text import document_text


def _sklearn_margins(p: artifacts.LinearParams, docs: list[str]) -> np.ndarray:
    vec = TfidfVectorizer(
        lowercase=p.lowercase,
        token_pattern=p.token_pattern,
        sublinear_tf=p.sublinear_tf,
        norm=p.norm,
        vocabulary={t: i for i, t in enumerate(p.vocabulary)},
    )
    vec.idf_ = np.asarray(p.idf)
    return vec.transform(docs) @ np.asarray(p.coef) + p.intercept


def test_margin_equals_scikit_learn_on_the_corpus(extractor, fitted, corpus_records):
    """``intercept + coef . tfidf`` as LogisticRegression.decision_function computes it, in
    float64 (exactly) and in the served float32 column."""
    records, _ = corpus_records
    p = fitted.linear
    assert len(p.vocabulary) > 5 * 500  # far more words than the TF-IDF block
    assert all(t.isascii() for t in p.vocabulary)
    docs = [document_text(r) for r in records]
    expected = _sklearn_margins(p, docs)
    linear = LinearMargin(p)
    ours = np.array([linear.margin(linear.tfidf.prepare(d)) for d in docs])
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    served = extractor.transform_records(records, NoHistory())[:, LINEAR_COLUMN]
    np.testing.assert_allclose(served, expected.astype(np.float32), rtol=1e-6, atol=1e-6)
    assert expected.std() > 1  # a real model, not a constant


def test_margin_separates_the_classes_of_the_corpus(extractor, corpus_records):
    records, labels = corpus_records
    margin = extractor.transform_records(records, NoHistory())[:, LINEAR_COLUMN]
    spam = np.array([lab == "spam" for lab in labels])
    assert np.median(margin[spam]) > 0 > np.median(margin[~spam])


def test_an_empty_document_gets_the_intercept(fitted):
    linear = LinearMargin(fitted.linear)
    assert linear.margin("") == fitted.linear.intercept


def test_broken_linear_parameters_are_refused(fitted):
    doc = fitted.model_dump(mode="json")
    doc["linear"]["coef"] = doc["linear"]["coef"][:-1]
    with pytest.raises(ArtifactError, match="linear vocabulary, idf and coef differ in length"):
        artifacts.loads(_json(doc))
    doc = fitted.model_dump(mode="json")
    doc["linear"]["intercept"] = float("inf")
    with pytest.raises(ArtifactError, match="coefficients must be finite"):
        artifacts.loads(_json(doc, allow_nan=True))


def test_the_margin_has_a_readable_name():
    d = describe_feature("text_linear_margin")
    assert d["kind"] == "content" and "logistic regression" in d["label"]


def _json(doc: dict, allow_nan: bool = False) -> str:
    import json

    doc = dict(doc)
    doc.pop("fingerprint", None)
    return json.dumps(doc, allow_nan=allow_nan)
