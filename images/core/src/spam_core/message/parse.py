"""Raw RFC 822 message or API fields -> :class:`EmailRecord`, through one normalization: the
public API of ``spam_core.message`` (``headers``: the header fast path; ``decoding``: charsets,
dates, addresses; ``feed`` and ``html``: bodies).

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

import email
import email.feedparser
import email.header
import email.message
import email.utils
import hashlib
import re
from collections.abc import Iterable
from datetime import datetime

from spam_core.errors import InvalidEmailError
from spam_core.message import html as _html
from spam_core.message.decoding import (
    decode_bytes,
    decode_header_text,
    parse_date,
    parse_sender,
)
from spam_core.message.headers import _message_from_bytes
from spam_core.message.limits import (
    MAX_DECODED_CHARS,
    MAX_MIME_DEPTH,
    MAX_RAW_BYTES,
    EmailLimitExceeded,
)
from spam_core.message.record import (
    MAX_PART_CHARS,
    MAX_SUBJECT_CHARS,
    MAX_TEXT_CHARS,
    MAX_URLS,
    EmailRecord,
)

_TEXT_URL_RE = re.compile(
    # ``(?i)(?:https?://|www\.)`` spelled out (Python's case folding adds U+017F to "s"), and
    # the first letter of both alternatives taken out in front as one class, each alternative
    # checking it looks back at its own: a pattern that starts with a character class lets
    # the engine skip, in C, to the next h or w instead of trying every position
    r"[HhWw](?:(?<=[Hh])[Tt][Tt][Pp][Ss\u017f]?://|(?<=[Ww])[Ww][Ww]\.)[^\s<>\"'()\[\]{}]+"
)


def email_id_for(data: bytes) -> str:
    """Stable id of a raw message: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]


# --------------------------------------------------------------------------- body parts
class _Body:
    """Accumulates decoded text parts; the one place body normalization happens."""

    __slots__ = (
        "budget",
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
        self.budget = MAX_DECODED_CHARS
        """Decoded characters that later text parts may still bring (``limits``)."""

    def add_text(self, content: str, subtype: str) -> None:
        self.n_parts += 1
        content = content[: min(MAX_PART_CHARS, self.budget)]
        self.budget -= len(content)
        content = content.replace("\r\n", "\n").replace("\r", "\n")
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
    if depth > MAX_MIME_DEPTH:  # the parser refuses deeper input: not reached
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
    if acc.budget <= 0:  # the text budget is spent: counted, not decoded (``limits``)
        acc.add_text("", subtype)
        return
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
    (wrong type, empty) and :class:`~spam_core.message.limits.EmailLimitExceeded` for one over
    a limit of :mod:`spam_core.message.limits` (size, headers, MIME depth and parts).
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
        raise EmailLimitExceeded("MAX_RAW_BYTES", len(data), MAX_RAW_BYTES, "raw message bytes")
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
