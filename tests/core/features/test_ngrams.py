"""The linear margin's vectorized character n-grams (``byte_ngram_ids``): the same n-grams as
scikit-learn's ``char_wb`` analyzer on ASCII text, hashed into ``bits``."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from spam_core.features.linear import HASH_BASE, HASH_MIX, bucket_counts, byte_ngram_ids

TEXTS = [
    "Hello   World, this is a\ttest of  SPAM filters!! ok",
    "Dear Friend,\n\nYou have been selected. Click http://example.com/x?id=1 NOW\r\n-- \nBob",
    "a b c",
    "x",
]


def _gram_id(gram: str, bits: int = 20) -> int:
    """One n-gram's id, computed one byte at a time (the reference the vectorized hash must
    equal)."""
    h = np.uint32(len(gram))
    with np.errstate(over="ignore"):
        for byte in gram.encode("utf-8"):
            h = h * HASH_BASE + np.uint32(byte)
        return int((h * HASH_MIX) >> np.uint32(32 - bits))


@pytest.mark.parametrize("text", TEXTS)
def test_within_words_are_char_wb_ngrams(text):
    analyzer = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()
    expected = Counter(_gram_id(g) for g in analyzer(text))
    assert Counter(byte_ngram_ids(text, within_words=True).tolist()) == expected


def test_across_words_adds_the_grams_that_span_a_blank():
    text = "ab cd"
    within = Counter(byte_ngram_ids(text, within_words=True).tolist())
    across = Counter(byte_ngram_ids(text, within_words=False).tolist())
    assert within - across == Counter()  # every within-word gram is there too
    assert _gram_id("b c") in across and _gram_id("b c") not in within
    assert _gram_id(" ab ") in within  # one padded word


def test_ids_are_bounded_lower_cased_and_empty_text_has_none():
    ids = byte_ngram_ids("Grüße aus Köln — 東京 " * 50, bits=12)
    assert ids.dtype == np.uint32 and ids.size and int(ids.max()) < 2**12
    assert Counter(byte_ngram_ids("SPAM")) == Counter(byte_ngram_ids("spam"))
    assert byte_ngram_ids("").size == 0
    assert byte_ngram_ids(" \n\t ").size == 0


def test_the_hash_is_pinned():
    """Served models store per-bucket weights: the hash of an n-gram must never change
    without a new feature-set version (these ids were computed when it was written)."""
    assert byte_ngram_ids(" spam ", 5, 5).tolist() == [_gram_id(" spam"), _gram_id("spam ")]
    assert [_gram_id(g) for g in (" sp", "spam", "am ")] == PINNED


PINNED = [321589, 1021514, 416321]


@pytest.mark.parametrize(("lo", "hi", "bits"), [(3, 5, 20), (1, 2, 8), (2, 4, 12), (4, 8, 24)])
def test_bucket_counts_of_many_documents_are_each_documents_own(lo, hi, bits):
    """The batch counter hashes documents end to end in one array (in chunks): each
    document's buckets and counts are ``byte_ngram_ids``' of it alone, whatever its
    neighbours (empty, blank, one letter, long, more than one key holds)."""
    docs = [*TEXTS, "", " \n ", "a", "ab", "Grüße aus Köln — 東京", "word " * 20_000]
    docs += [f"n{i} Bob" for i in range(2 ** (32 - bits) + 3 if bits >= 20 else 50)]
    doc, bucket, counts = bucket_counts(docs, lo, hi, bits)
    assert np.all(np.diff(doc) >= 0)
    for i in [*range(len(TEXTS) + 6), len(docs) - 1]:
        ids, expected = np.unique(
            byte_ngram_ids(docs[i], lo, hi, bits, within_words=True), return_counts=True
        )
        assert np.array_equal(bucket[doc == i], ids), i
        assert np.array_equal(counts[doc == i], expected), i
