"""The linear text margin (``text_linear_margin``): a fitted logistic regression over the
TF-IDF of hashed character n-grams, evaluated as one feature column.

The trees see 500 word TF-IDF terms; a linear model can weigh every character 3-5-gram of
the training split (about 420,000 hashed buckets) at the cost of hashing the document once.
Character n-grams keep the evidence that word tokens lose: obfuscated words (``v1agra``,
``fr.ee``), word stems and inflections, markup and URL fragments, digits inside words.
Its margin (log-odds) is stacked under the trees as one column, so the model stays one
XGBoost graph (one ONNX model per version) and the transformer computes it with the other
features.

The n-grams (:func:`byte_ngram_ids`) are those of scikit-learn's ``char_wb`` analyzer,
taken over the lower-cased UTF-8 bytes (identical on ASCII text), hashed with a
multiplicative polynomial hash into ``2 ** hash_bits`` buckets, all in numpy, a whole batch
of documents at a time (scikit-learn's analyzer makes one Python string per n-gram: 0.6 ms
for a typical e-mail).

The margin is ``intercept + sum(coef[j] * tfidf[j])`` over the document's buckets, with
``tfidf`` the sublinear TF (``1 + ln count``) times the smoothed IDF
(``ln((1 + n) / (1 + df)) + 1``, :func:`smooth_idf`), L2-normalized over every bucket of the
document (a bucket unseen in training has the largest IDF and no coefficient). It equals
``LogisticRegression.decision_function`` on ``TfidfTransformer(sublinear_tf=True)`` output of
the same hashed counts (a test compares them). A document's sums depend on its own n-grams
only (``reduceat`` over its run), so the single and the batch path give the same bits (tested).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spam_core.artifacts import LinearParams

HASH_BASE = np.uint32(0x01000193)
"""Multiplier of the polynomial hash over an n-gram's bytes (FNV-1's 32-bit prime)."""
HASH_MIX = np.uint32(0x9E3779B1)
"""Final multiplicative mix (Knuth's golden ratio constant); the top ``hash_bits`` bits of
the product are the bucket."""


def byte_ngram_ids(
    text: str, lo: int = 3, hi: int = 5, bits: int = 20, within_words: bool = True
) -> np.ndarray:
    """Bucket ids (uint32 below ``2 ** bits``) of every byte n-gram, n in ``lo..hi``, of the
    lower-cased UTF-8 text with blank runs as one space and a space at each end, one id per
    occurrence. ``within_words`` (the served analyzer): like scikit-learn's ``char_wb``, only
    n-grams inside one space-padded word (a word shorter than n gives none); otherwise also
    the n-grams that span a blank.

    The hash of an n-gram ``b_1 .. b_n`` is ``((n * B + b_1) * B + ... + b_n) * M`` modulo
    2^32 (``B = HASH_BASE``, ``M = HASH_MIX``), its top ``bits`` bits the bucket; the
    features' version changes if any of this does."""
    words = text.lower().split()
    t = " " + ("  " if within_words else " ").join(words) + " "
    b = np.frombuffer(t.encode("utf-8", "replace"), dtype=np.uint8).astype(np.uint32)
    # within words: a window may not hold two blanks in a row (the gap between padded words)
    gap = np.concatenate([[0], np.cumsum((b[:-1] == 32) & (b[1:] == 32))]) if b.size else b
    out = []
    with np.errstate(over="ignore"):  # the polynomial hash wraps modulo 2^32 on purpose
        for n in range(lo, hi + 1):
            m = b.size - n + 1
            if m <= 0:
                continue
            h = np.full(m, n, dtype=np.uint32)
            for k in range(n):
                h = h * HASH_BASE + b[k : k + m]
            ids = (h * HASH_MIX) >> np.uint32(32 - bits)
            if within_words:  # pairs starting at i .. i+n-2 lie inside window [i, i+n)
                ids = ids[gap[n - 1 : n - 1 + m] == gap[:m]]
            out.append(ids)
    return np.concatenate(out) if out else np.zeros(0, np.uint32)


def smooth_idf(document_frequency: np.ndarray, n_documents: int) -> np.ndarray:
    """``ln((1 + n) / (1 + df)) + 1``, as scikit-learn's ``TfidfTransformer(smooth_idf=True)``
    computes it (the same float64 operations)."""
    df = np.asarray(document_frequency, dtype=np.float64) + 1.0
    return np.log((n_documents + 1) / df) + 1.0


_CHUNK_BYTES = 1 << 16
"""The batch path hashes about this many bytes of documents at a time: its temporaries stay in
the processor's cache (64 KB chunks ran 2.6x faster than 1 MB ones)."""
_KEY_BITS = 32
"""A chunk's ``(document, bucket)`` pairs are sorted as one uint32 key: the document index
takes the bits the bucket leaves (4,096 documents at 2^20 buckets)."""


def _padded(doc: str) -> bytes:
    # lower-cased words, two blanks between them and one at each end (byte_ngram_ids' text)
    return (" " + "  ".join(doc.lower().split()) + " ").encode("utf-8", "replace")


def chunks(docs: Sequence[str], bits: int) -> Iterator[tuple[int, Sequence[str]]]:
    """(index of the first, documents): consecutive runs of about ``_CHUNK_BYTES`` of text and
    at most ``2 ** (32 - bits)`` documents (their index shares a uint32 key with the bucket)."""
    most = 2 ** (_KEY_BITS - bits)
    begin, size = 0, 0
    for i, d in enumerate(docs):
        size += len(d)
        if size >= _CHUNK_BYTES or i + 1 - begin == most:
            yield begin, docs[begin : i + 1]
            begin, size = i + 1, 0
    if begin < len(docs):
        yield begin, docs[begin:]


def chunk_counts(
    docs: Sequence[str], lo: int, hi: int, bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document index, bucket, count) of every distinct bucket of each document's n-grams
    (:func:`byte_ngram_ids`, within words), sorted by document then bucket; ``docs`` is one
    chunk (:func:`chunks`). The documents' padded texts are hashed end to end as one array:
    the double blank between two never lies inside a word, so no n-gram crosses them."""
    parts = [_padded(d) for d in docs]
    raw = np.frombuffer(b"".join(parts), dtype=np.uint8)
    if raw.size < lo:
        empty = np.zeros(0, dtype=np.uint32)
        return empty, empty, np.zeros(0, dtype=np.int64)
    b = raw.astype(np.uint32)
    blank = raw == 32
    pair = blank[:-1] & blank[1:]  # a double blank starts here: between two padded words
    sizes = [max(raw.size - n + 1, 0) for n in range(lo, hi + 1)]
    # a window of n bytes at i lies inside one word when no double blank starts in i .. i+n-2
    crossing = np.zeros(sizes[0], dtype=bool)
    for k in range(lo - 1):
        crossing |= pair[k : k + sizes[0]]
    outside = [crossing]
    for n, size in zip(range(lo + 1, hi + 1), sizes[1:], strict=True):
        outside.append(outside[-1][:size] | pair[n - 2 : n - 2 + size])
    with np.errstate(over="ignore"):  # the polynomial hash wraps modulo 2^32 on purpose
        # h_n of the n bytes at i; h_(n+1) = h_n * B + b[i + n] + B^(n+1): byte_ngram_ids'
        h = np.full(sizes[0], lo, dtype=np.uint32)
        for k in range(lo):
            h *= HASH_BASE
            h += b[k : k + sizes[0]]
        hashes = [h]
        for n, size in zip(range(lo + 1, hi + 1), sizes[1:], strict=True):
            h = hashes[-1][:size] * HASH_BASE
            h += b[n - 1 : n - 1 + size]
            h += HASH_BASE ** np.uint32(n)
            hashes.append(h)
        key = np.concatenate(hashes)
        key *= HASH_MIX
        key >>= np.uint32(32 - bits)
    if len(parts) > 1:
        lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
        doc_key = np.repeat(np.arange(len(parts), dtype=np.uint32) << np.uint32(bits), lengths)
        key |= np.concatenate([doc_key[:s] for s in sizes])
    key = key[~np.concatenate(outside)]
    key.sort()
    new = np.empty(key.size, dtype=bool)
    new[:1] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first = np.flatnonzero(new)
    counts = np.empty(first.size, dtype=np.int64)
    counts[:-1] = first[1:] - first[:-1]
    counts[-1:] = key.size - first[-1:]
    key = key[first]
    return key >> np.uint32(bits), key & np.uint32(2**bits - 1), counts


def bucket_counts(
    docs: Sequence[str], lo: int = 3, hi: int = 5, bits: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`chunk_counts` of any number of documents (document index int64): what training
    counts document frequencies with, the same code the margin is served with."""
    out = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))]
    for begin, chunk in chunks(docs, bits):
        doc, bucket, counts = chunk_counts(chunk, lo, hi, bits)
        out.append((doc.astype(np.int64) + begin, bucket.astype(np.int64), counts))
    return tuple(np.concatenate(a) for a in zip(*out, strict=True))  # type: ignore[return-value]


class LinearMargin:
    """``text_linear_margin`` of documents (:func:`spam_core.features.text.document_text`).

    The batch path (:meth:`margins`) counts a chunk of documents' n-gram buckets at once
    (:func:`chunk_counts`) and sums per document with ``reduceat``; one document
    (:meth:`margin`) is a chunk of one, so both paths compute the same bits."""

    __slots__ = ("_coef", "_idf", "_intercept", "bits", "ngram_range")

    def __init__(self, params: LinearParams) -> None:
        self.bits = params.hash_bits
        self.ngram_range = tuple(params.ngram_range)
        buckets = params.bucket_ids()
        df = np.zeros(2**self.bits, dtype=np.int64)
        df[buckets] = params.document_frequencies()
        # dense per-bucket tables: one gather per n-gram instead of a search
        self._idf = smooth_idf(df, params.n_documents)
        self._coef = np.zeros(2**self.bits, dtype=np.float64)
        self._coef[buckets] = params.coefficients()
        self._intercept = float(params.intercept)

    def ids(self, doc: str) -> np.ndarray:
        lo, hi = self.ngram_range
        return byte_ngram_ids(doc, lo, hi, self.bits, within_words=True)

    def _tfidf(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(document, bucket, sublinear TF-IDF before the norm, start of each document's run)."""
        lo, hi = self.ngram_range
        doc, bucket, counts = chunk_counts(docs, lo, hi, self.bits)
        w = np.log(counts)
        w += 1.0
        w *= self._idf[bucket]
        if len(docs) == 1 or not doc.size:
            return doc, bucket, w, np.zeros(min(doc.size, 1), dtype=np.intp)
        return doc, bucket, w, np.flatnonzero(np.concatenate([[True], doc[1:] != doc[:-1]]))

    def weights(self, docs: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(document index, bucket, weight): the documents' L2-normalized sublinear TF-IDF,
        sorted by document then bucket (the rows the linear model is fitted on)."""
        out = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))]
        for begin, chunk in chunks(docs, self.bits):
            doc, bucket, w, starts = self._tfidf(chunk)
            if doc.size:
                norms = np.sqrt(np.add.reduceat(w * w, starts))
                w /= np.repeat(norms, np.diff(np.append(starts, doc.size)))
            out.append((doc.astype(np.int64) + begin, bucket.astype(np.int64), w))
        return tuple(np.concatenate(a) for a in zip(*out, strict=True))  # type: ignore[return-value]

    def margins(self, docs: Sequence[str]) -> np.ndarray:
        """The margin of each document, float64 (a document without n-grams gets the
        intercept): ``intercept + (w . coef) / ||w||`` per document."""
        out = np.full(len(docs), self._intercept)
        for begin, chunk in chunks(docs, self.bits):
            doc, bucket, w, starts = self._tfidf(chunk)
            if doc.size:
                dot = np.add.reduceat(w * self._coef[bucket], starts)
                dot /= np.sqrt(np.add.reduceat(w * w, starts))
                dot += self._intercept
                out[begin + doc[starts]] = dot
        return out

    def margin(self, doc: str) -> float:
        return float(self.margins([doc])[0])
