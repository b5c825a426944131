"""Raw RFC 822 message or API fields -> :class:`EmailRecord`, through one normalization.

The raw path uses the standard library's ``compat32`` parser (about 10x faster than
``email.policy.default`` and more tolerant of broken messages) and decodes headers and
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
import email.parser
import email.utils
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime

from spam_core.errors import InvalidEmailError
from spam_core.message import html as _html
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
    # ``(?i)(?:https?://|www\.)`` spelled out (Python's case folding adds U+017F to "s"), so
    # the engine can skip to a candidate first letter instead of trying every position
    r"(?:[Hh][Tt][Tt][Pp][Ss\u017f]?://|[Ww][Ww][Ww]\.)[^\s<>\"'()\[\]{}]+"
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
            parsed = email.utils.parsedate_to_datetime(text)
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


def parse_sender(value: object) -> tuple[str, str, str, str]:
    """``From`` value -> (decoded value, display name, lower-cased address, domain)."""
    text = decode_header_text(value)
    if not text:
        return "", "", "", ""
    name, address = email.utils.parseaddr(text)
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
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
"""One line as the feed parser cracks them (universal newlines, line ending kept)."""
_HEADER_RE = email.feedparser.headerRE
_NL_RE = email.feedparser.NLCRE
_PARSER = email.parser.Parser()  # compat32, what email.message_from_bytes uses


def _message_from_bytes(data: bytes) -> email.message.Message:
    """``email.message_from_bytes(data)`` without its line-by-line walk of a single-part body.

    The feed parser reads the header lines up to the first line that is not a header (the
    blank separator is dropped, any other line starts the body), and the payload of a message
    that is neither ``multipart/*`` nor ``message/*`` is the rest of the text verbatim. So the
    headers are parsed alone (same lines, same parser) and that rest becomes the payload; the
    body of a long single-part message is then one slice instead of one Python step per line.
    Multipart and ``message/*`` messages are parsed whole, as before.
    """
    text = data.decode("ascii", "surrogateescape")  # what BytesParser.parsebytes does
    end = len(text)
    header_end = body_start = end
    pos = 0
    while pos < end:
        line = _LINE_RE.match(text, pos)
        if not _HEADER_RE.match(line.group()):
            header_end = pos
            body_start = line.end() if _NL_RE.match(line.group()) else pos
            break
        pos = line.end()
    message = _PARSER.parsestr(text[:header_end])
    if message.get_content_maintype() in ("multipart", "message"):
        return _PARSER.parsestr(text)
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
        charset = message.get_content_charset()
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
