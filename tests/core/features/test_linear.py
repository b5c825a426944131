"""The linear text margin (``text_linear_margin``): scikit-learn's numbers on the same hashed
counts, the artifact's checks, and the readable name explanations give it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression

from spam_core import artifacts
from spam_core.errors import ArtifactError
from spam_core.explain import describe_feature
from spam_core.features import LINEAR_COLUMN, NoHistory
from spam_core.features.linear import LinearMargin, byte_ngram_ids, smooth_idf
from spam_core.features.text import document_text
from spam_core.ingest import read_records


def _counts(docs: list[str], p: artifacts.LinearParams) -> sparse.csr_matrix:
    """Hashed n-gram counts, (documents, 2^bits), built without the serving code's tables."""
    rows, cols = [], []
    for i, d in enumerate(docs):
        ids = byte_ngram_ids(d, *p.ngram_range, p.hash_bits)
        rows += [i] * ids.size
        cols += ids.tolist()
    return sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(docs), 2**p.hash_bits))


@pytest.fixture(scope="module")
def train_docs(dataset_dir) -> list[str]:
    records, _ = read_records(dataset_dir, split="train")
    return [document_text(r) for r in records]


def test_idf_is_scikit_learns_on_the_training_counts(fitted, train_docs):
    p = fitted.linear
    assert p.n_documents == len(train_docs)
    expected = TfidfTransformer(sublinear_tf=True).fit(_counts(train_docs, p)).idf_
    df = np.zeros(2**p.hash_bits)
    df[p.bucket_ids()] = p.document_frequencies()
    assert np.array_equal(smooth_idf(df, p.n_documents), expected)
    assert p.bucket_ids().size > 100_000  # far more than the TF-IDF block's 500 terms


def test_margin_equals_scikit_learn_on_the_corpus(extractor, fitted, corpus_records, train_docs):
    """``intercept + coef . tfidf`` as LogisticRegression.decision_function computes it on
    ``TfidfTransformer`` output of the same counts (every split: test e-mails bring buckets
    training never saw, which count in the norm), in float64 and in the served column."""
    records, _ = corpus_records
    p = fitted.linear
    tfidf = TfidfTransformer(sublinear_tf=True).fit(_counts(train_docs, p))
    coef = np.zeros(2**p.hash_bits)
    coef[p.bucket_ids()] = p.coefficients()
    docs = [document_text(r) for r in records]
    expected = tfidf.transform(_counts(docs, p)) @ coef + p.intercept
    linear = LinearMargin(p)
    ours = np.array([linear.margin(d) for d in docs])
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)
    served = extractor.transform_records(records, NoHistory())[:, LINEAR_COLUMN]
    np.testing.assert_allclose(served, expected.astype(np.float32), rtol=1e-6, atol=1e-6)
    assert expected.std() > 1  # a real model, not a constant


def test_coefficients_are_the_logistic_regression_on_both_forms(fitted, dataset_dir, train_docs):
    """The stored coefficients are scikit-learn's fit (liblinear, C of the artifact) on the
    training e-mails' TF-IDF in the raw and the field form, rounded to float32 (liblinear
    stops at its tolerance: inputs that differ in the last bit move the solution by ~1e-6)."""
    from spam_trainer.slices import field_form

    p = fitted.linear
    records, labels = read_records(dataset_dir, split="train")
    y = np.array([lab == "spam" for lab in labels], dtype=np.float64)
    tfidf = TfidfTransformer(sublinear_tf=True).fit(_counts(train_docs, p))
    fields = [document_text(field_form(r)) for r in records]
    x = tfidf.transform(sparse.vstack([_counts(train_docs, p), _counts(fields, p)]))
    model = LogisticRegression(
        C=p.regularization_c, solver="liblinear", max_iter=1000, random_state=p.cross_fit_seed
    ).fit(x[:, p.bucket_ids()], np.concatenate([y, y]))
    np.testing.assert_allclose(p.coefficients(), model.coef_[0], rtol=1e-5, atol=1e-6)
    assert p.intercept == pytest.approx(model.intercept_[0], rel=1e-5)


def test_batch_margins_are_the_single_margins_bit_for_bit(fitted, corpus_records):
    """The batch path hashes 64 KB chunks of documents as one array (and at most 4,096
    documents: their index shares a uint32 key with the bucket); each document's margin is
    the one it gets alone, in float64, and its bucket counts are ``byte_ngram_ids``'."""
    records, _ = corpus_records
    linear = LinearMargin(fitted.linear)
    docs = [document_text(r) for r in records]
    # tiny and empty documents: more of them than one key holds
    docs += ["", "ok", "Hi Bob", " \t", "x" * 70_000] + [f"w{i} yes" for i in range(4_200)]
    batch = linear.margins(docs)
    assert np.array_equal(batch, [linear.margin(d) for d in docs])
    doc, bucket, w = linear.weights(docs)
    df = np.zeros(2**fitted.linear.hash_bits)
    df[fitted.linear.bucket_ids()] = fitted.linear.document_frequencies()
    idf = smooth_idf(df, fitted.linear.n_documents)
    for i in (0, len(records) - 1, len(records) + 4, len(docs) - 1):
        ids, counts = np.unique(linear.ids(docs[i]), return_counts=True)
        assert np.array_equal(bucket[doc == i], ids)
        expected = (1 + np.log(counts)) * idf[ids]
        np.testing.assert_allclose(w[doc == i], expected / np.linalg.norm(expected), rtol=1e-12)
    assert not (doc == len(records)).any()  # the empty document has no row


def test_margin_separates_the_classes_of_the_corpus(extractor, corpus_records):
    records, labels = corpus_records
    margin = extractor.transform_records(records, NoHistory())[:, LINEAR_COLUMN]
    spam = np.array([lab == "spam" for lab in labels])
    assert np.median(margin[spam]) > 0 > np.median(margin[~spam])


def test_an_empty_document_gets_the_intercept(fitted):
    linear = LinearMargin(fitted.linear)
    assert linear.margin("") == linear.margin(" \n\t") == fitted.linear.intercept


def test_the_artifact_packs_the_arrays_and_round_trips(fitted):
    text = artifacts.dumps(fitted)
    assert len(text) < 4_000_000  # compressed arrays, not lists of numbers
    again = artifacts.loads(text)
    for name in ("bucket_ids", "document_frequencies", "coefficients"):
        assert np.array_equal(getattr(again.linear, name)(), getattr(fitted.linear, name)())
    assert again.fingerprint == fitted.fingerprint


def _edited(fitted, **linear) -> str:
    doc = fitted.model_dump(mode="json")
    doc["linear"].update(linear)
    return json.dumps(doc, allow_nan=True)


def test_broken_linear_parameters_are_refused(fitted):
    p = fitted.linear
    pack = artifacts.PackedArray.pack
    cases = {
        "differ in length": {"coef": pack(p.coefficients()[:-1], "<f4").model_dump()},
        "increasing": {"buckets": pack(p.bucket_ids()[::-1], "<u4").model_dump()},
        "below 2\\^12": {"hash_bits": 12},
        "exceeds n_documents": {"n_documents": 1},
        "coefficients must be finite": {"intercept": float("inf")},
        "must be <f4": {"coef": pack(p.bucket_ids(), "<u4").model_dump()},
        "not zlib \\+ base64": {"coef": {**p.coef.model_dump(), "data": "not base64!"}},
        "does not hold": {"coef": {**p.coef.model_dump(), "length": p.coef.length + 1}},
        "n-gram range": {"ngram_range": [5, 3]},
    }
    for message, change in cases.items():
        with pytest.raises(ArtifactError, match=message):
            artifacts.loads(_edited(fitted, **change))


def test_a_packed_array_never_inflates_past_its_stated_size():
    big = artifacts.PackedArray.pack(np.zeros(1_000_000, np.float32), "<f4")
    with pytest.raises(ValueError, match="does not hold 10 <f4"):
        artifacts.PackedArray(dtype="<f4", length=10, data=big.data)


def test_the_margin_has_a_readable_name():
    d = describe_feature("text_linear_margin")
    assert d["kind"] == "content" and "character 3-5-grams" in d["label"]
