"""Raw RFC 822 message or API fields -> :class:`EmailRecord`, through one normalization.

The raw path uses the standard library's ``compat32`` parser (much faster than
``email.policy.default``, see the README's "Measured design choices", and more tolerant of
broken messages) and decodes headers and
payloads itself, never raising on malformed input: unknown or wrong charsets fall back to
UTF-8 and then Latin-1, broken base64 yields what can be decoded, a missing header yields
an empty field.

Both paths end in :func:`_build_record`, which owns every normalization rule (newlines,
HTML sniffing, caps, URL extraction), so ``parse_fields(subject, body, sender, date)``
and ``parse_raw`` of a message carrying the same fields give equal records.
"""

from __future__ import annotations

import codecs
import email
import email.feedparser
import email.header
import email.message
import email.utils
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone

from spam_core.errors import InvalidEmailError
from spam_core.message import html as _html
from spam_core.message.feed import parse_body, parse_text
from spam_core.message.record import (
    MAX_PART_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_TEXT_CHARS,
    MAX_URLS,
    EmailRecord,
)

MAX_RAW_BYTES = 10 * 1024 * 1024
"""Largest raw message accepted; bigger input is refused with :class:`InvalidEmailError`."""

_TEXT_URL_RE = re.compile(
    # ``(?i)(?:https?://|www\.)`` spelled out (Python's case folding adds U+017F to "s"), and
    # the first letter of both alternatives taken out in front as one class, each alternative
    # checking it looks back at its own: a pattern that starts with a character class lets
    # the engine skip, in C, to the next h or w instead of trying every position
    r"[HhWw](?:(?<=[Hh])[Tt][Tt][Pp][Ss\u017f]?://|(?<=[Ww])[Ww][Ww]\.)[^\s<>\"'()\[\]{}]+"
)
_FOLD_RE = re.compile(r"\s+")
_MIN_YEAR, _MAX_YEAR = 1980, 2100


def email_id_for(data: bytes) -> str:
    """Stable id of a raw message: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]


# --------------------------------------------------------------------------- decoding
def _charset_ok(charset: str | None) -> str | None:
    if not charset:
        return None
    charset = charset.strip().strip('"').lower()
    if charset in ("unknown-8bit", "x-unknown", "unknown", "default", "8bit"):
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Decode payload bytes: the declared charset, else UTF-8, else Latin-1 (never fails)."""
    declared = _charset_ok(charset)
    if declared is not None:
        try:
            return data.decode(declared)
        except (UnicodeDecodeError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared is not None and declared not in ("ascii", "utf-8"):
        try:
            return data.decode(declared, errors="replace")
        except (UnicodeDecodeError, ValueError, LookupError):
            pass
    return data.decode("latin-1")


def _unescape_surrogates(value: str) -> str:
    # compat32 keeps undecodable header bytes as surrogate escapes.
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return decode_bytes(value.encode("ascii", "surrogateescape"))


def decode_header_text(value: object) -> str:
    """Header value (str, ``email.header.Header`` or ``None``) -> decoded, whitespace collapsed.

    RFC 2047 encoded words are decoded with the same fallbacks as payloads. Used for raw
    headers and for API fields alike.
    """
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        chunks = value._chunks  # (str with surrogates, charset) pairs; no public accessor
        text = "".join(_unescape_surrogates(str(s)) for s, _ in chunks)
    else:
        text = _unescape_surrogates(str(value))
    if "=?" in text:
        try:
            pieces = email.header.decode_header(text)
            text = "".join(decode_bytes(p, cs) if isinstance(p, bytes) else p for p, cs in pieces)
        except (ValueError, LookupError, AssertionError, IndexError):
            pass  # keep the undecoded text: better than nothing
    return _FOLD_RE.sub(" ", text).strip()


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}
_RFC_DATE_RE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2})"
    r" (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([1-9][0-9]{3})"
    r" ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{4})(?: .*)?\Z"
)
"""The usual ``Date``: ``[Tue, ]1 Oct 2002 10:00:00 +0200[ anything]`` (collapsed spaces)."""


def _parsedate_to_datetime(text: str) -> datetime:
    """``email.utils.parsedate_to_datetime(text)``, for the usual form without its parser.

    For text of ``_RFC_DATE_RE``, ``email.utils._parsedate_tz`` drops the day name, reads
    day, month, year (four digits: used as is), time and a numeric zone, and ignores any
    further words; a zone of ``-0000`` means "unknown" (a naive result). The same values
    go to the same constructors, so the result and the exceptions are the same.
    """
    found = _RFC_DATE_RE.match(text)
    if found is None:
        return email.utils.parsedate_to_datetime(text)
    day, month, year, hour, minute, second, sign, zone = found.groups()
    fields = (int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
    offset = int(zone)
    if offset == 0 and sign == "-":
        return datetime(*fields)
    seconds = (offset // 100) * 3600 + (offset % 100) * 60
    return datetime(
        *fields, tzinfo=timezone(timedelta(seconds=-seconds if sign == "-" else seconds))
    )


def parse_date(value: object) -> datetime | None:
    """RFC 2822 or ISO 8601 date -> aware datetime; ``None`` when missing, invalid or absurd."""
    if value is None:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = decode_header_text(value)
        if not text:
            return None
        parsed = None
        try:
            parsed = _parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # "-0000" / naive: the sender did not say
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        return None
    return parsed


_ADDR_SPEC = r"[A-Za-z0-9._%+-]*@[A-Za-z0-9.-]+"
_ROUTE_ADDR_SPEC = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+"  # in <>, a leading "@" starts a route
_PHRASE_ATOM = r"[^\s()<>@,:;\"\[\]\\]+"
_BARE_ADDR_RE = re.compile(_ADDR_SPEC + r"\Z")
_NAMED_ADDR_RE = re.compile(rf"((?:{_PHRASE_ATOM} )*{_PHRASE_ATOM})? ?<({_ROUTE_ADDR_SPEC})>\Z")
_QUOTED_NAME_ADDR_RE = re.compile(rf'"([^"\\]*)" ?<({_ROUTE_ADDR_SPEC})>\Z')
_ADDR_COMMENT_RE = re.compile(rf"({_ADDR_SPEC}) \(([^()\\]*)\)\Z")


def _parseaddr(text: str) -> tuple[str, str]:
    """``email.utils.parseaddr(text)`` for a whitespace-collapsed header value.

    The usual forms are answered by a regular expression; what ``parseaddr`` (a Python
    character-by-character parser) returns for them follows from its grammar: an address
    of atoms and dots is returned as is; words before ``<address>`` are joined by single
    spaces; a quoted name is unquoted (no backslash in it); a comment after the address
    becomes the name. Anything else goes to ``parseaddr`` itself.
    """
    if _BARE_ADDR_RE.match(text):
        return "", text
    found = _NAMED_ADDR_RE.match(text)
    if found is not None:
        return found.group(1) or "", found.group(2)
    found = _QUOTED_NAME_ADDR_RE.match(text)
    if found is not None:
        return found.group(1), found.group(2)
    found = _ADDR_COMMENT_RE.match(text)
    if found is not None:
        return found.group(2), found.group(1)
    return email.utils.parseaddr(text)


def parse_sender(value: object) -> tuple[str, str, str, str]:
    """``From`` value -> (decoded value, display name, lower-cased address, domain)."""
    text = decode_header_text(value)
    if not text:
        return "", "", "", ""
    name, address = _parseaddr(text)
    address = address.strip().lower()
    if "@" not in address:
        # parseaddr returns junk for "undisclosed-recipients:;" and the like
        return text, name.strip(), "", ""
    domain = address.rsplit("@", 1)[1].strip(".>")
    return text, name.strip().strip('"'), address, domain


# --------------------------------------------------------------------------- body parts
class _Body:
    """Accumulates decoded text parts; the one place body normalization happens."""

    __slots__ = (
        "html_parts",
        "html_texts",
        "n_attachments",
        "n_parts",
        "tags",
        "text_parts",
        "texts",
        "urls",
    )

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.html_texts: list[str] = []
        self.urls: list[str] = []
        self.n_parts = 0
        self.text_parts = 0
        self.html_parts = 0
        self.n_attachments = 0
        self.tags = 0

    def add_text(self, content: str, subtype: str) -> None:
        self.n_parts += 1
        content = content[:MAX_PART_CHARS].replace("\r\n", "\n").replace("\r", "\n")
        if subtype == "html" or _html.looks_like_html(content):
            self.html_parts += 1
            self.tags += _html.count_tags(content)
            self.urls.extend(_html.attribute_urls(content))
            visible = _html.html_to_text(content)
            self.urls.extend(_TEXT_URL_RE.findall(visible))
            self.html_texts.append(visible)
        else:
            self.text_parts += 1
            content = content.strip()
            self.urls.extend(_TEXT_URL_RE.findall(content))
            self.texts.append(content)

    def add_attachment(self) -> None:
        self.n_parts += 1
        self.n_attachments += 1


def _join(parts: Iterable[str]) -> str:
    return "\n".join(p for p in parts if p)[:MAX_TEXT_CHARS]


def _build_record(
    email_id: str, subject: object, sender: object, date: object, body: _Body
) -> EmailRecord:
    sender_text, sender_name, address, domain = parse_sender(sender)
    return EmailRecord(
        email_id=email_id,
        subject=decode_header_text(subject)[:MAX_SUBJECT_CHARS],
        sender=sender_text,
        sender_name=sender_name,
        sender_address=address,
        sender_domain=domain,
        date=parse_date(date),
        text=_join(body.texts),
        html_text=_join(body.html_texts),
        urls=tuple(body.urls[:MAX_URLS]),
        n_parts=body.n_parts,
        n_text_parts=body.text_parts,
        n_html_parts=body.html_parts,
        n_attachments=body.n_attachments,
        n_html_tags=body.tags,
    )


# --------------------------------------------------------------------------- message parsing
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
    if message.get_content_maintype() in ("multipart", "message"):
        if whole_headers:
            return parse_body(message, text[body_start:])
        return parse_text(text, _Message)
    message.set_payload(text[body_start:])
    return message


# --------------------------------------------------------------------------- public API
def parse_fields(
    *,
    email_id: str,
    subject: str | None = None,
    body: str | None = None,
    sender: str | None = None,
    date: str | datetime | None = None,
) -> EmailRecord:
    """The API's ``{subject, body, sender, date}`` -> record.

    The body is treated exactly like the single text part of a raw message with no
    ``Content-Type`` header (RFC 2045 default ``text/plain``, sniffed for HTML).
    """
    for name, value in (("subject", subject), ("body", body), ("sender", sender)):
        if value is not None and not isinstance(value, str):
            raise InvalidEmailError(f"{name} must be a string, got {type(value).__name__}")
    acc = _Body()
    acc.add_text(body or "", "plain")
    return _build_record(email_id, subject, sender, date, acc)


_SIMPLE_CHARSET_RE = re.compile(
    r"\s*[A-Za-z0-9!#$%&'*+.^_`{|}~-]+/[A-Za-z0-9!#$%&'*+.^_`{|}~-]+\s*;"
    r"\s*[Cc][Hh][Aa][Rr][Ss][Ee][Tt]\s*=\s*(\"?)([A-Za-z0-9_.:+-]+)\1\s*\Z"
)
"""``type/subtype; charset=token`` (token quoted or not) and nothing else: the usual
``Content-Type`` with a charset, whose ``get_content_charset()`` is the token lower-cased."""


def _content_charset(message: email.message.Message) -> str | None:
    """``message.get_content_charset()``, without its parameter parsing (Python code, and
    ~10 ms for a header of thousands of ``;``) where the answer is plain:

    * no ``Content-Type``: ``None``;
    * no "charset" in it, in any case: ``None`` (a parameter name that lower-cases to
      ``charset`` is ASCII letters, as only ASCII letters lower-case to them, so its value
      contains it);
    * exactly ``type/subtype; charset=token``: the token, lower-cased.

    (Without "charset", ``get_content_charset()`` may also raise ``TypeError`` on broken
    RFC 2231 parameters; ``_walk``, the caller, reads that as ``None`` too.)
    """
    value = message.get("content-type")
    if value is None:
        return None
    if isinstance(value, str):  # not an email.header.Header (undecodable bytes)
        if "charset" not in value.lower():
            return None
        simple = _SIMPLE_CHARSET_RE.match(value)
        if simple is not None:
            return simple.group(2).lower()
    return message.get_content_charset()


def _walk(message: email.message.Message, acc: _Body, depth: int = 0) -> None:
    if depth > 20:  # pathological nesting: stop, keep what we have
        return
    if message.is_multipart():
        payload = message.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, email.message.Message):
                    _walk(sub, acc, depth + 1)
        return
    try:
        ctype = message.get_content_type()
    except (ValueError, TypeError, AttributeError):
        ctype = "text/plain"
    disposition = str(message.get("Content-Disposition", "")).lower()
    if disposition.startswith("attachment") or not ctype.startswith("text/"):
        acc.add_attachment()
        return
    subtype = ctype[5:]
    if subtype not in ("plain", "html"):
        # text/enriched, text/calendar, ...: readable text but not body prose
        if subtype in ("enriched", "richtext", "x-vcard", "calendar", "rtf"):
            acc.add_attachment()
            return
        subtype = "plain"
    try:
        data = message.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        data = None
    if data is None:
        raw = message.get_payload()
        data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    try:
        charset = _content_charset(message)
    except (ValueError, TypeError, LookupError, AttributeError):
        charset = None
    acc.add_text(decode_bytes(data[: MAX_PART_CHARS * 4], charset), subtype)


def parse_raw(raw: bytes | str, email_id: str | None = None) -> EmailRecord:
    """A full RFC 822 message (bytes or str) -> record. Never raises on malformed content.

    Raises :class:`InvalidEmailError` only for input that is not a message at all
    (wrong type, empty, larger than ``MAX_RAW_BYTES``).
    """
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogateescape")
    elif isinstance(raw, bytes | bytearray | memoryview):
        data = bytes(raw)
    else:
        raise InvalidEmailError(f"raw message must be bytes or str, got {type(raw).__name__}")
    if not data.strip():
        raise InvalidEmailError("raw message is empty")
    if len(data) > MAX_RAW_BYTES:
        raise InvalidEmailError(f"raw message is {len(data)} bytes, limit is {MAX_RAW_BYTES}")
    if email_id is None:
        email_id = email_id_for(data)
    # mbox "From " separator lines are not headers
    if data.startswith(b"From "):
        newline = data.find(b"\n")
        data = data[newline + 1 :] if newline >= 0 else b""
    message = _message_from_bytes(data)
    acc = _Body()
    _walk(message, acc)
    return _build_record(
        email_id, message.get("Subject"), message.get("From"), message.get("Date"), acc
    )
