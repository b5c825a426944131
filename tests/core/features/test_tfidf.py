"""The serving TF-IDF reproduces scikit-learn's own transform."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from spam_core.features import NoHistory
from spam_core.features.text import document_text
from spam_core.features.tfidf import TfidfTransform
from spam_trainer.features import fit_vectorizer, tfidf_params


def _ours(vectorizer: TfidfVectorizer, docs: list[str], batch: bool) -> np.ndarray:
    p = tfidf_params(vectorizer) if len(vectorizer.vocabulary_) == 500 else None
    vocab = [t for t, _ in sorted(vectorizer.vocabulary_.items(), key=lambda kv: kv[1])]
    t = TfidfTransform(
        vocab,
        vectorizer.idf_,
        vectorizer.token_pattern,
        lowercase=vectorizer.lowercase,
        sublinear_tf=vectorizer.sublinear_tf,
        norm=vectorizer.norm,
    )
    assert p is None or p.vocabulary == vocab
    out = np.zeros((len(docs), len(vocab)))
    prepared = [t.prepare(d) for d in docs]
    if batch:
        t.transform_batch(prepared, out)
    else:
        for i, d in enumerate(prepared):
            t.transform_one(d, out[i])
    return out


def test_parity_with_scikit_learn_on_the_corpus(corpus_records):
    records, _ = corpus_records
    train = records[: len(records) // 2]
    vectorizer = fit_vectorizer(train)
    docs = [document_text(r) for r in records]
    expected = vectorizer.transform(docs).toarray()
    for batch in (True, False):
        ours = _ours(vectorizer, docs, batch)
        np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("sublinear_tf", "norm"), [(False, None), (True, None), (False, "l2")])
def test_parity_for_other_settings(sublinear_tf, norm):
    docs = [
        "the cat sat on the mat mat mat",
        "Dogs and CATS, cats & dogs!",
        "",
        "42 4242 x y",
        "mat " * 5000,
        "ünïcödé wörds wörds here",
    ]
    vec = TfidfVectorizer(sublinear_tf=sublinear_tf, norm=norm).fit(docs)
    expected = vec.transform(docs).toarray()
    for batch in (True, False):
        np.testing.assert_allclose(_ours(vec, docs, batch), expected, rtol=1e-12, atol=1e-15)


def test_float32_vectors_match_scikit_learn(extractor, fitted, corpus_records):
    """The served float32 block equals scikit-learn's float64 transform to float32 precision."""
    records, _ = corpus_records
    p = fitted.tfidf
    vec = TfidfVectorizer(
        lowercase=p.lowercase,
        token_pattern=p.token_pattern,
        sublinear_tf=p.sublinear_tf,
        norm=p.norm,
        vocabulary={t: i for i, t in enumerate(p.vocabulary)},
    )
    vec.idf_ = np.asarray(p.idf)
    expected = vec.transform([document_text(r) for r in records]).toarray()
    ours = extractor.transform_records(records, NoHistory())[:, :500]
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="differ in length"):
        TfidfTransform(["a", "b"], [1.0], r"\w+")
