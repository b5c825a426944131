"""Fast, tolerant HTML handling for e-mail bodies (regular expressions, no DOM).

Spam HTML is routinely malformed; a DOM parser is slower and fails in more ways. These
functions never raise on any input string.
"""

from __future__ import annotations

import html as _html
import re

_SNIFF_RE = re.compile(r"<(?:!doctype\s+html|html|body|head|table|div|font|center|p|br|a\s)[\s>/]")
_DROP_BLOCKS_RE = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
_BREAK_RE = re.compile(r"<(?:br|/p|p|/div|div|/tr|tr|/li|li|/h\d|hr)\b[^>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"<[a-zA-Z/!][^>]*>")
_OPEN_TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")
_ATTR_URL_RE = re.compile(
    r"""(?:href|src|action)\s*=\s*["']?((?:https?://|www\.)[^"'\s>]+)""", re.IGNORECASE
)
_ATTR_EQ_RE = re.compile(r"""=\s*["']?(?:https?://|www\.)""", re.IGNORECASE)
"""Where an attribute URL can be: the ``=`` part of ``_ATTR_URL_RE`` (a literal first
character, so the engine jumps from one ``=`` to the next instead of trying each position)."""
_ATTR_NAME_LENGTHS = (6, 4, 3)  # action, href, src: the only lengths a name before "=" has
_SPACES_RE = re.compile(r"[ \t\r\f\v\xa0](?:(?<=[\t\r\f\v\xa0])|[ \t\r\f\v\xa0])[ \t\r\f\v\xa0]*")
r"""Runs of horizontal space (one character other than a plain space, or two and more): what
``[ \t\r\f\v\xa0]+`` → " " changes, without rewriting every single space as itself. Written
as ``[ \t\r\f\v\xa0]{2,}|[\t\r\f\v\xa0]`` with the first character taken out in front: a
pattern that starts with a character class lets the engine skip to the next candidate in
C instead of trying every position."""
_BLANK_LINES_RE = re.compile(r"\n\s*\n+")


def looks_like_html(text: str) -> bool:
    """True when a part declared as plain text is really HTML (common in spam)."""
    return _SNIFF_RE.search(text[:4096].lower()) is not None


def count_tags(markup: str) -> int:
    """Number of opening tags."""
    return len(_OPEN_TAG_RE.findall(markup))


def attribute_urls(markup: str) -> list[str]:
    """URLs in ``href``/``src``/``action`` attributes, in document order.

    Exactly ``_ATTR_URL_RE.findall(markup)``, found from the ``=`` side: every match has one
    ``=`` (a URL cannot hold the ``=`` of a later match's name part), its name ends where the
    white space before that ``=`` starts, and names end in different letters, so each ``=``
    candidate has at most one possible start. The pattern itself is then matched there, and
    candidates inside the previous match are skipped, as ``findall`` skips them.
    """
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


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document: scripts/styles dropped, tags stripped, entities decoded."""
    text = _COMMENT_RE.sub(" ", markup)
    text = _DROP_BLOCKS_RE.sub(" ", text)
    text = _BREAK_RE.sub("\n", text)
    text = _TAG_RE.sub(" ", text)
    text = _html.unescape(text)
    text = _SPACES_RE.sub(" ", text)
    text = _BLANK_LINES_RE.sub("\n", text)
    return text.strip()
