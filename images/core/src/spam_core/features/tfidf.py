"""TF-IDF transform from a fitted vocabulary and IDF vector (plain data, no pickles).

Reproduces scikit-learn's ``TfidfVectorizer(lowercase=True, token_pattern=..., ngram_range=(1, 1),
sublinear_tf=..., norm='l2'|None)`` transform exactly (a test compares them on the corpus),
at a fraction of its per-document cost: tokens are looked up in a dict, and only the
vocabulary's columns are touched. With the platform's token pattern the tokens are not
even matched one by one: the document's word runs (:func:`spam_core.features.text.word_runs`,
C-speed ``bytes`` methods) that equal a vocabulary term are exactly its vocabulary tokens.

The single-document and the batch path are written to give bit-identical float64 results:
sub-linear TF comes from one table of ``1 + math.log(n)``, and row norms are
``math.sqrt(math.fsum(...))`` (exactly rounded, so independent of summation order).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from spam_core.features.text import word_runs

_SUBLINEAR_TABLE_SIZE = 4096
_SUBLINEAR = [0.0] + [1.0 + math.log(n) for n in range(1, _SUBLINEAR_TABLE_SIZE)]
_SUBLINEAR_NP = np.asarray(_SUBLINEAR, dtype=np.float64)


WORD_RUN_TOKEN_PATTERNS = frozenset(
    {
        r"(?u)\b[^\W\d_]\w+\b",  # the platform's (spam_trainer.features.TOKEN_PATTERN)
        r"\b[^\W\d_]\w+\b",
        r"(?u)\b\w\w+\b",  # scikit-learn's default
        r"\b\w\w+\b",
    }
)
"""Token patterns whose tokens are whole word runs (runs of two or more ``\\w`` characters;
for the first two, starting with a letter); ``(?u)`` is the default for str patterns."""


def _word_run_vocabulary(
    vocabulary: Sequence[str], token_re: re.Pattern[str]
) -> dict[bytes, int] | None:
    """``{term as ASCII bytes: column}`` when vocabulary tokens can be counted as word runs.

    A word run equal to a term that the token pattern matches whole is itself a token (it
    starts and ends at word boundaries and is a string the pattern matches), and every token
    is a whole word run: so the word runs equal to vocabulary terms are exactly the
    vocabulary's tokens. Terms must be ASCII (``word_runs`` masks non-ASCII text).
    ``None`` (use the regular expression) for any other pattern or vocabulary.
    """
    if token_re.pattern not in WORD_RUN_TOKEN_PATTERNS or token_re.flags & re.ASCII:
        return None
    if not all(term.isascii() and token_re.fullmatch(term) for term in vocabulary):
        return None
    return {term.encode("ascii"): j for j, term in enumerate(vocabulary)}


class TfidfTransform:
    """Vocabulary-lookup TF-IDF. Inputs are already lower-cased when ``lowercase`` is set."""

    __slots__ = (
        "_idf",
        "_idf_np",
        "_index",
        "_run_index",
        "_token_re",
        "lowercase",
        "norm",
        "size",
        "sublinear_tf",
    )

    def __init__(
        self,
        vocabulary: Sequence[str],
        idf: Sequence[float],
        token_pattern: str,
        *,
        lowercase: bool = True,
        sublinear_tf: bool = True,
        norm: str | None = "l2",
    ) -> None:
        if len(vocabulary) != len(idf):
            raise ValueError("vocabulary and idf differ in length")
        if norm not in ("l2", None):
            raise ValueError(f"unsupported norm {norm!r}")
        self._token_re = re.compile(token_pattern)
        self._index = {term: i for i, term in enumerate(vocabulary)}
        self._run_index = _word_run_vocabulary(vocabulary, self._token_re)
        self._idf = [float(v) for v in idf]
        self._idf_np = np.asarray(self._idf, dtype=np.float64)
        self.lowercase = lowercase
        self.sublinear_tf = sublinear_tf
        self.norm = norm
        self.size = len(vocabulary)

    def prepare(self, doc: str) -> str:
        """The document as the tokenizer sees it (lower-cased when configured)."""
        return doc.lower() if self.lowercase else doc

    def _counts(self, prepared: str) -> list[tuple[int, int]]:
        """``(column, term count)`` of the vocabulary terms in the document, by column."""
        run_index = self._run_index
        if run_index is not None:
            # filter first: the Counter then only counts the vocabulary's words
            counts = Counter(filter(run_index.__contains__, word_runs(prepared)))
            return sorted([(run_index[t], n) for t, n in counts.items()])
        return self._counts_regex(prepared)

    def _counts_regex(self, prepared: str) -> list[tuple[int, int]]:
        """The reference: every token matched, counted, then looked up (any token pattern)."""
        index = self._index
        counts = Counter(self._token_re.findall(prepared))
        return sorted((index[t], n) for t, n in counts.items() if t in index)

    def _weights(self, pairs: list[tuple[int, int]]) -> list[float]:
        idf = self._idf
        if self.sublinear_tf:  # 1 + log(n), from the table the batch path uses too
            table, size, log = _SUBLINEAR, _SUBLINEAR_TABLE_SIZE, math.log
            return [(table[n] if n < size else 1.0 + log(n)) * idf[j] for j, n in pairs]
        return [float(n) * idf[j] for j, n in pairs]

    def sparse_one(self, prepared: str) -> tuple[list[int], list[float]]:
        """One document's non-zero columns (ascending) and their weights."""
        pairs = self._counts(prepared)
        if not pairs:
            return [], []
        weights = self._weights(pairs)
        if self.norm == "l2":
            norm = math.sqrt(math.fsum([w * w for w in weights]))
            if norm > 0.0:
                weights = [w / norm for w in weights]
        return [j for j, _ in pairs], weights

    def transform_one(self, prepared: str, out: np.ndarray) -> None:
        """Write one document's weights into ``out`` (length ``size``, zero-filled)."""
        cols, weights = self.sparse_one(prepared)
        for j, w in zip(cols, weights, strict=True):
            out[j] = w

    def transform_batch(self, prepared_docs: Sequence[str], out: np.ndarray) -> None:
        """Vectorized path: ``out`` is an (n, size) zero-filled array."""
        indptr = [0]
        cols: list[int] = []
        cnts: list[int] = []
        for doc in prepared_docs:
            pairs = self._counts(doc)
            cols.extend(j for j, _ in pairs)
            cnts.extend(n for _, n in pairs)
            indptr.append(len(cols))
        if not cols:
            return
        col = np.asarray(cols, dtype=np.intp)
        cnt = np.asarray(cnts, dtype=np.int64)
        if self.sublinear_tf:
            small = cnt < _SUBLINEAR_TABLE_SIZE
            tf = np.empty(len(cnt), dtype=np.float64)
            tf[small] = _SUBLINEAR_NP[cnt[small]]
            for k in np.flatnonzero(~small):
                tf[k] = 1.0 + math.log(int(cnt[k]))
        else:
            tf = cnt.astype(np.float64)
        weights = tf * self._idf_np[col]
        rows = np.repeat(np.arange(len(prepared_docs)), np.diff(indptr))
        if self.norm == "l2":
            squares = (weights * weights).tolist()
            norms = np.ones(len(prepared_docs), dtype=np.float64)
            for r in range(len(prepared_docs)):
                lo, hi = indptr[r], indptr[r + 1]
                if hi > lo:
                    norms[r] = math.sqrt(math.fsum(squares[lo:hi])) or 1.0
            weights = weights / norms[rows]
        out[rows, col] = weights
