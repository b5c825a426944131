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
_SPACES_RE = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES_RE = re.compile(r"\n\s*\n+")


def looks_like_html(text: str) -> bool:
    """True when a part declared as plain text is really HTML (common in spam)."""
    return _SNIFF_RE.search(text[:4096].lower()) is not None


def count_tags(markup: str) -> int:
    """Number of opening tags."""
    return len(_OPEN_TAG_RE.findall(markup))


def attribute_urls(markup: str) -> list[str]:
    """URLs in ``href``/``src``/``action`` attributes, in document order."""
    return _ATTR_URL_RE.findall(markup)


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
