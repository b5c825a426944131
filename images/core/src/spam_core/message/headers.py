"""The header fast path: ``email.message_from_bytes`` (compat32) without the feed parser's
line-by-line walk, with results equal to the standard library's (tested against it on the
corpus and fuzzed input)."""

from __future__ import annotations

import email
import email.feedparser
import email.header
import email.message
import email.utils
import re

from spam_core.message.feed import parse_body, parse_text
from spam_core.message.limits import (
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    EmailLimitExceeded,
)


class _Message(email.message.Message):
    """A compat32 ``Message`` whose header look-ups cost one dict read.

    ``Message.get`` scans every header and lower-cases each name, and the parser, the
    content-type helpers and ``get_payload`` call it a dozen times per part (a message has
    20-40 headers, most of them ``Received``; ``in`` scans them likewise). Here ``get`` and
    ``in`` read an index {lower-cased name: position of the first header of that name}, built
    on first use and rebuilt when the header list is replaced or changes length:
    ``Message``'s methods change names only so (appending, deleting, rebuilding the list;
    ``replace_header`` keeps name and position). Results are those of ``Message``'s methods.
    """

    _first_of: dict[str, int] | None = None
    _indexed: list[tuple[str, str]] | None = None
    _indexed_len = -1

    def _index(self) -> dict[str, int]:
        headers = self._headers
        first_of = self._first_of
        if first_of is None or self._indexed is not headers or self._indexed_len != len(headers):
            first_of = {}
            for i, (key, _) in enumerate(headers):
                first_of.setdefault(key.lower(), i)  # the first header of a name wins
            self._first_of, self._indexed, self._indexed_len = first_of, headers, len(headers)
        return first_of

    def get(self, name: str, failobj: object = None) -> object:
        i = self._index().get(name.lower())
        if i is None:
            return failobj
        key, value = self._headers[i]
        return self.policy.header_fetch_parse(key, value)

    def __contains__(self, name: str) -> bool:  # get_param asks before reading a parameter
        return name.lower() in self._index()


_HEADER_LINE_RE = email.feedparser.headerRE
"""Does a line start as a header line (``From ``, ``name:`` or a continuation)?"""
_HEADER_BLOCK_RE = re.compile(
    r"(?:(?:[\041-\071\073-\176]*+:|[\t ]|From )[^\r\n]*+(?:\r\n|\r|\n)?+)*+"
)
r"""The header lines at the start of a text: lines (universal newlines, as the feed parser
cracks them, line ending kept) that ``_HEADER_LINE_RE`` accepts, up to the first that it
does not accept. Each repetition is one whole line: ``[^\r\n]*`` stops only at a line
break or the end, which the optional group then takes."""
_NON_HEADER_LINE_RE = re.compile(r"\n(?![\041-\071\073-\176]*+:|[\t ]|From )")
r"""A line break followed by a line that is not a header line: the same end of the header
block as ``_HEADER_BLOCK_RE`` when every line break before it ends in ``\n`` (``\n`` or
``\r\n``), found by jumping from one ``\n`` to the next."""
_LONE_CR_RE = re.compile(r"\r(?!\n)")
"""A line break that ``_NON_HEADER_LINE_RE`` does not see."""
_ODD_LINE_BREAKS_RE = re.compile(r"[\x0b\x0c\x1c-\x1e]")
r"""Line breaks of ``str.splitlines`` that the feed parser does not break at, among the
characters of an ASCII / surrogate-escaped text (``\x85``, ``\u2028``... cannot occur)."""
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_SPECIAL_HEADER_LINE_RE = re.compile(r"[\r\n](?:From |:)")
"""A header line after the first that ``_FIELD_RE`` would not read as the parser does
(``str`` searches find it first where all line breaks end in ``\\n``)."""
_FIELD_RE = re.compile(
    r"([^:\r\n]*):[ \t]*+([^\r\n]*+(?:(?:\r\n|\r|\n)[ \t][^\r\n]*+)*+)(?:\r\n|\r|\n)?"
)
r"""One header as ``(name, value)``, as ``Compat32.header_source_parse`` makes it of its
lines: the name up to the first colon, the value with the blanks after the colon dropped,
continuation lines joined with their line breaks, the last line break dropped."""


def _header_end(text: str) -> int:
    """Where the header block of ``text`` ends (the start of its first non-header line)."""
    if _HEADER_LINE_RE.match(text) is None:
        return 0
    found = _NON_HEADER_LINE_RE.search(text)
    end = found.end() if found is not None else len(text)
    if _LONE_CR_RE.search(text, 0, end) is not None:  # old Mac line breaks: line by line
        end = _HEADER_BLOCK_RE.match(text).end()
    return end


def _parse_header_lines(lines: list[str], message: email.message.Message) -> None:
    """``FeedParser._parse_headers`` (compat32) for header lines already cut: the same
    ``(name, value)`` pairs in the same order, and the same unix-from line. (Its defects are
    not recorded: nothing reads them.)"""
    headers = message._headers
    name = None  # of the header being collected
    value_lines: list[str] = []
    last = len(lines) - 1
    for lineno, line in enumerate(lines):
        if line[0] in " \t":
            if name is not None:  # a continuation line; one before any header is dropped
                value_lines.append(line)
            continue
        if name is not None:
            # Compat32.header_source_parse
            first = value_lines[0]
            value = first[len(name) + 1 :].lstrip(" \t") + "".join(value_lines[1:])
            headers.append((name, value.rstrip("\r\n")))
            name = None
        if line.startswith("From "):
            if lineno == 0:
                message.set_unixfrom(line.rstrip("\r\n"))  # one line: one line break
            elif lineno == last:
                return  # pushed back as the first body line (the payload is set apart)
            continue  # a misplaced envelope line: ignored
        colon = line.find(":")
        if colon == 0:
            continue  # "Missing header name": ignored
        name = line[:colon]
        value_lines = [line]
    if name is not None:
        first = value_lines[0]
        value = first[len(name) + 1 :].lstrip(" \t") + "".join(value_lines[1:])
        headers.append((name, value.rstrip("\r\n")))


def _message_from_bytes(data: bytes) -> email.message.Message:
    """``email.message_from_bytes(data)`` without the feed parser's line-by-line walk of the
    headers and of a single-part body.

    The feed parser reads the header lines up to the first line that is not a header (the
    blank separator is dropped, any other line starts the body), and the payload of a message
    that is neither ``multipart/*`` nor ``message/*`` is the rest of the text verbatim. So the
    header block is found and parsed as the feed parser parses it (:func:`_header_end`,
    ``_FIELD_RE``, :func:`_parse_header_lines`) and the rest becomes the payload: a
    single-part message costs a few C calls.
    Multipart and ``message/*`` messages are parsed whole, by a port of the feed parser
    that reads each part's body as one slice (:func:`spam_core.message.feed.parse_text`).
    """
    text = data.decode("ascii", "surrogateescape")  # what BytesParser.parsebytes does
    header_end = _header_end(text)
    if header_end > MAX_HEADER_BYTES:
        raise EmailLimitExceeded("MAX_HEADER_BYTES", header_end, MAX_HEADER_BYTES, "header bytes")
    # the first line that is not a header: dropped when it is an empty line (the separator)
    if text.startswith("\r\n", header_end):
        body_start = header_end + 2
    elif header_end < len(text) and text[header_end] in "\r\n":
        body_start = header_end + 1
    else:
        body_start = header_end
    message = _Message()
    whole_headers = True  # all header lines became headers (none given back to the body)
    if header_end:
        block = text[:header_end]
        if (
            block[0] in " \t:"
            or block.startswith("From ")
            or "\n:" in block
            or "\nFrom " in block
            or ("\r" in block and _SPECIAL_HEADER_LINE_RE.search(block))
        ):
            # an envelope line, a continuation before any header, a line without a name
            if _ODD_LINE_BREAKS_RE.search(block) is None:
                lines = block.splitlines(keepends=True)  # \r, \n and \r\n, as the parser
            else:
                lines = _LINE_RE.findall(block)
            _parse_header_lines(lines, message)
            whole_headers = False
        else:  # the usual block: every header a name line and its continuation lines
            message._headers = _FIELD_RE.findall(block)
    if len(message._headers) > MAX_HEADERS:
        raise EmailLimitExceeded("MAX_HEADERS", len(message._headers), MAX_HEADERS, "headers")
    if message.get_content_maintype() in ("multipart", "message"):
        if whole_headers:
            return parse_body(message, text[body_start:])
        return parse_text(text, _Message)
    message.set_payload(text[body_start:])
    return message
