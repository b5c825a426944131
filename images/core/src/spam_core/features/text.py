"""The text the features read: one definition for fitting, serving and batch.

Besides :func:`document_text`, this module splits a (prepared) document into its *word runs*
once, for the TF-IDF block and the spam-phrase feature alike (see :func:`word_runs`).
"""

from __future__ import annotations

import codecs
import re

from spam_core.message.record import EmailRecord


def document_text(record: EmailRecord) -> str:
    """Subject, plain text and HTML-derived text (already capped in the record)."""
    return f"{record.subject}\n{record.text}\n{record.html_text}"


# --------------------------------------------------------------------------- word runs
# A *word run* is a maximal run of ``\w`` characters as Python's ``re`` defines them for str
# patterns: ``c.isalnum() or c == "_"``. Every token of the TF-IDF pattern
# ``(?u)\b[^\W\d_]\w+\b`` is a whole word run, and so is every word of a spam phrase matched
# between ``\b``; so counting the word runs that equal a vocabulary term or a phrase word gives
# the counts the regular expressions give, at C speed: the text becomes bytes in which every
# non-word character is a space (``bytes.translate``), then ``bytes.split()``.
#
# Vocabulary terms and phrase words are ASCII (checked where they are used), so what must
# come out exactly is the ASCII word runs, in order; a run that holds a non-ASCII character
# only has to stay different from every ASCII term. The ASCII encoder hands each stretch of
# non-ASCII characters to ``_mask_non_ascii``, which writes the byte ``\x80`` (kept as a word
# byte, in no ASCII term) where the stretch starts or ends with a word character, and a
# space in between where it holds a non-word character: ASCII runs split exactly where they
# did, a run touching a non-ASCII word character holds ``\x80``, and runs lying wholly inside
# the stretch (non-ASCII only) may vanish. (A few non-ASCII stretches per document are the
# rule; a text with many goes through one ``\w+`` regex instead.)
NON_ASCII_WORD = b"\x80"
"""The byte that stands for non-ASCII word characters in the runs of :func:`word_runs`."""

_WORD_BYTES = bytes(
    b if (b < 128 and (chr(b).isalnum() or b == 95)) or b == NON_ASCII_WORD[0] else 32
    for b in range(256)
)
"""``bytes.translate`` table: ASCII word bytes (``[A-Za-z0-9_]``) and ``\\x80`` kept, any
other byte a space."""
_MAX_MASKED_CHARS = 64
"""Non-ASCII characters above which a document is split by the regular expression."""
_WORD_RUN_RE = re.compile(r"\w+")
_MASK_ERRORS = "spam_core.mask_non_ascii"


def _mask_non_ascii(exc: UnicodeError) -> tuple[bytes, int]:
    """Codec error handler: a stretch of non-ASCII characters -> at most ``\\x80 \\x80``."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    run = exc.object[exc.start : exc.end]
    if run.isalnum():  # only word characters (no ASCII here, so no "_"): part of one run
        return NON_ASCII_WORD, exc.end
    # a non-word character inside: what precedes and what follows are separate runs (the
    # runs wholly inside the stretch are non-ASCII: no term can equal them, they are dropped)
    head = NON_ASCII_WORD if run[0].isalnum() else b""
    tail = NON_ASCII_WORD if run[-1].isalnum() else b""
    return head + b" " + tail, exc.end


codecs.register_error(_MASK_ERRORS, _mask_non_ascii)


def _split_word_runs(doc: str) -> list[bytes]:
    """The word runs of ``doc``, in order, as bytes (non-ASCII masked as described above)."""
    if doc.isascii():
        return doc.encode("ascii").translate(_WORD_BYTES).split()
    if len(doc) - len(doc.encode("ascii", "ignore")) <= _MAX_MASKED_CHARS:
        return doc.encode("ascii", _MASK_ERRORS).translate(_WORD_BYTES).split()
    # many non-ASCII characters: the runs themselves; non-ASCII ones differ from any ASCII term
    return " ".join(_WORD_RUN_RE.findall(doc)).encode("utf-8", "surrogatepass").split()


_memo: tuple[str | None, list[bytes]] = (None, [])


def word_runs(doc: str) -> list[bytes]:
    """The word runs of ``doc``, in order, as bytes (the ASCII ones as they are; see above).

    The TF-IDF step and the spam-phrase feature read the same prepared document of an e-mail
    one after the other: the runs of the last document are kept (a one-entry memo keyed by
    the string object itself, so exact: the same object holds the same text) and the second
    reader gets them for free. Callers must not modify the list.
    """
    global _memo
    memo = _memo  # read once: another thread may replace the memo, never half of it
    if memo[0] is doc:
        return memo[1]
    runs = _split_word_runs(doc)
    _memo = (doc, runs)
    return runs
