"""Fast, tolerant HTML handling for e-mail bodies (regular expressions, no DOM).

Spam HTML is routinely malformed; a DOM parser is slower and fails in more ways. These
functions never raise on any input string.

``count_tags``, ``attribute_urls`` and ``html_to_text`` run on every HTML part of every
message. Their results are those of plain regular-expression passes, kept frozen in
``tests/core/message/test_html_parity.py``, which checks these functions against them on the
corpus and on fuzzed input. The code here gets the same counts, lists and strings for every
input with less work: faster spellings of the same patterns, passes skipped where nothing can
match, and ``str.find`` where a pattern would try every start again up to the end (unclosed
comments, scripts and tags cost the passes time quadratic in the part's length).
"""

from __future__ import annotations

import html as _html
import re

_SNIFF_RE = re.compile(r"<(?:!doctype\s+html|html|body|head|table|div|font|center|p|br|a\s)[\s>/]")
_OPEN_TAG_RE = re.compile(r"<[a-zA-Z][^>]*+>()")
"""Opening tags, ``<[a-zA-Z][^>]*>``, with an empty group for counting: ``findall`` then lists
the one shared empty string per tag instead of a copy of each. (``[^>]`` cannot take the
``>``, so the possessive ``*+`` matches what ``*`` matches.)"""

# --------------------------------------------------------------------------- attribute URLs
_ATTR_URL_RE = re.compile(
    r"""(?:href|src|action)\s*=\s*["']?((?:https?://|www\.)[^"'\s>]+)""", re.IGNORECASE
)
"""What :func:`attribute_urls` finds (``findall``)."""
_ATTR_EQ_RE = re.compile(r"""=\s*["']?(?:https?://|www\.)""", re.IGNORECASE)
"""Where an ``_ATTR_URL_RE`` match can have its ``=`` (a literal first character, so the
engine jumps from one ``=`` to the next instead of trying each position)."""
_ATTR_RE = re.compile(
    r"""=(?=\s*+["']?+(?:https?://|www\.))"""
    r"""(?:(?:(?<=href=)|(?<=src=)|(?<=action=))\s*["']?((?:https?://|www\.)[^"'\s>]+)"""
    r"""|(?<=\s=))""",
    re.IGNORECASE,
)
"""An ``_ATTR_EQ_RE`` candidate either right after a name, then with the URL ``_ATTR_URL_RE``
takes from that name (group 1), or right after white space, then alone (group 1 empty).
(White space, a quote, then ``http``/``www``: nothing given back could match instead, so
the possessive ``*+``/``?+`` of the look-ahead match what ``*``/``?`` match.)"""
_ATTR_NAME_LENGTHS = (6, 4, 3)  # action, href, src: the only lengths a name before "=" has

# --------------------------------------------------------------------------- visible text
_BLOCK_OPEN_RE = re.compile(r"<(?=[sS\u017fhHtT])((?i:s(?:cript|tyle)|head|title))\b")
_BLOCK_RE = re.compile(_BLOCK_OPEN_RE.pattern + r"(?:[^<]++|<(?!/(?i:\1)\s*>))*+</(?i:\1)\s*>")
r"""A script, style, head or title element: ``<(script|style|head|title)\b.*?</\1\s*>`` under
``re.IGNORECASE | re.DOTALL``, with a look-ahead at the first letter of the names (what
``[sht]`` matches under ``re.IGNORECASE``: most ``<`` fail there, before the case-insensitive
alternation), and the lazy ``.*?`` spelled as runs without ``<`` and single ``<`` that do not
start the closing tag: the same first closing tag, without a test at every character. The
back-reference stays case-insensitive (it compares lower-cased characters, as before).
``_BLOCK_OPEN_RE`` is its opening tag."""
_I = "[iI\u0130\u0131]"  # what "i" matches under re.IGNORECASE (b d h l p r t v: their cases)
_BREAK_RE = re.compile(
    rf"<(?:p|P|b[rR]|B[rR]|h[rR]|H[rR]|t[rR]|T[rR]|d{_I}[vV]|D{_I}[vV]|l{_I}|L{_I}"
    rf"|/(?:p|P|t[rR]|T[rR]|d{_I}[vV]|D{_I}[vV]|l{_I}|L{_I}|h\d|H\d))\b[^>]*+>"
)
r"""Tags that break a line: ``<(?:br|/p|p|/div|div|/tr|tr|/li|li|/h\d|hr)\b[^>]*>`` under
``re.IGNORECASE``, written without the flag: the same names as a tree whose branches start
with a literal letter (the engine skips a branch on one comparison, where a case-insensitive
letter costs a call), the other letters as the classes ``re.IGNORECASE`` matches."""
_TAG_RUN_RE = re.compile(r"<[a-zA-Z/!][^>]*+>(?:<[a-zA-Z/!][^>]*+>)*+")
"""Tags, ``<[a-zA-Z/!][^>]*>``, those that follow each other directly taken as one match: they
become one space instead of several, which the space pass makes one space anyway
(``html.unescape`` never takes a space into a character reference, so it decodes the text
on either side the same)."""
_SPACES_RE = re.compile(r"[ \t\r\f\v\xa0](?:(?<=[\t\r\f\v\xa0])|[ \t\r\f\v\xa0])[ \t\r\f\v\xa0]*")
r"""Runs of horizontal space (one character other than a plain space, or two and more): what
``[ \t\r\f\v\xa0]+`` → " " changes. :func:`html_to_text` does the same with
``_HORIZONTAL_SPACE`` and ``_SPACE_RUN_RE``."""
_HORIZONTAL_SPACE = ("\t", "\r", "\f", "\v", "\xa0")
_SPACE_RUN_RE = re.compile("   *")
"""Two plain spaces and more (a two-character literal prefix, which the engine finds in C):
once the other horizontal spaces are plain spaces, ``[ \\t\\r\\f\\v\\xa0]+`` → " " is this →
" "."""
_BLANK_LINES_RE = re.compile(r"\n\s*\n+")


def looks_like_html(text: str) -> bool:
    """True when a part declared as plain text is really HTML (common in spam)."""
    return _SNIFF_RE.search(text[:4096].lower()) is not None


def _split_open_end(markup: str) -> tuple[str, str]:
    """``markup`` cut after its last ``>`` when a ``<`` follows that: every tag, comment and
    element match ends in a ``>``, so none reaches into the rest (nor does any look-ahead
    decide differently there), and a pass no longer tries each of those ``<`` up to the end."""
    cut = markup.rfind(">") + 1
    if markup.find("<", cut) < 0:
        return markup, ""
    return markup[:cut], markup[cut:]


def count_tags(markup: str) -> int:
    """Number of opening tags (``<[a-zA-Z][^>]*>`` matches)."""
    return len(_OPEN_TAG_RE.findall(_split_open_end(markup)[0]))


def attribute_urls(markup: str) -> list[str]:
    """URLs in ``href``/``src``/``action`` attributes, in document order.

    Exactly ``_ATTR_URL_RE.findall(markup)``, found from the ``=`` side: every match has one
    ``=`` (a URL cannot hold the ``=`` of a later match's name part), its name ends where the
    white space before that ``=`` starts, and names end in different letters, so each ``=``
    candidate has at most one possible start. A name right before its ``=`` cannot start
    inside the previous match (that ends before a quote, a space or ``>``), so where no
    candidate has white space before its ``=``, the matches of ``_ATTR_RE`` are the answer.
    Otherwise each candidate is looked at in turn: the pattern itself is matched at its one
    possible start, and candidates inside the previous match are skipped, as ``findall``
    skips them.
    """
    urls = _ATTR_RE.findall(markup)
    if "" not in urls:  # a URL is never empty: "" is a candidate after white space
        return urls
    out: list[str] = []
    end = 0
    for candidate in _ATTR_EQ_RE.finditer(markup):
        name_end = candidate.start()
        while name_end > end and markup[name_end - 1].isspace():  # isspace() is re's \s
            name_end -= 1
        for length in _ATTR_NAME_LENGTHS:
            start = name_end - length
            if start >= end:
                found = _ATTR_URL_RE.match(markup, start)
                if found is not None:
                    out.append(found.group(1))
                    end = found.end()
                    break
    return out


def _drop_comments(text: str) -> str:
    """``re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL)`` by ``str.find``: once a comment
    has no ``-->`` after it, no later one has, where the pattern would look again for each."""
    start = text.find("<!--")
    pieces: list[str] = []
    pos = 0
    while start >= 0:
        close = text.find("-->", start + 4)
        if close < 0:
            break
        pieces.append(text[pos:start])
        pos = close + 3
        start = text.find("<!--", pos)
    if not pieces:
        return text
    pieces.append(text[pos:])
    return " ".join(pieces)


def _drop_blocks(text: str) -> str:
    """``_BLOCK_RE.sub(" ", text)``, trying the element only where its opening tag is, and not
    at all where that tag is spelled like an earlier one that found no closing tag: this one
    finds none either (it looks in less of the same text)."""
    opening = _BLOCK_OPEN_RE.search(text)
    pieces: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    while opening is not None:
        start = opening.start()
        name = opening.group(1)
        block = None if name in unclosed else _BLOCK_RE.match(text, start)
        if block is None:
            unclosed.add(name)
            opening = _BLOCK_OPEN_RE.search(text, start + 1)
        else:
            pieces.append(text[pos:start])
            pos = block.end()
            opening = _BLOCK_OPEN_RE.search(text, pos)
    if not pieces:
        return text
    pieces.append(text[pos:])
    return " ".join(pieces)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document: scripts/styles dropped, tags stripped, entities decoded.

    Comments → " ", then script/style/head/title elements → " ", then line-breaking tags →
    "\\n", then other tags → " " (each pass on the text the one before made), then
    ``html.unescape``, then runs of horizontal space → " ", then blank lines → "\\n", stripped.
    """
    text = markup
    if ">" in text and "<" in text:  # every markup match starts with "<" and ends with ">"
        text, rest = _split_open_end(text)
        if "<!--" in text:
            text = _drop_comments(text)
        text = _drop_blocks(text)
        text = _BREAK_RE.sub("\n", text)
        text = _TAG_RUN_RE.sub(" ", text) + rest
    if "&" in text:
        # "&nbsp;" always decodes alone, to "\xa0", which the space pass makes " " as it does
        # " "; and a space ends a reference before it as the "&" did: the rest decodes the same
        text = _html.unescape(text.replace("&nbsp;", " "))
    for space in _HORIZONTAL_SPACE:
        if space in text:
            text = text.replace(space, " ")
    text = _SPACE_RUN_RE.sub(" ", text)
    text = _BLANK_LINES_RE.sub("\n", text)
    return text.strip()
