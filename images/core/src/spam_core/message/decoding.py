"""Header and payload values as text: charsets, encoded words, dates and sender addresses.

Never raises on malformed input: unknown or wrong charsets fall back to UTF-8 and then
Latin-1, an unreadable date is ``None``, an address that cannot be parsed keeps its text.
"""

from __future__ import annotations

import codecs
import email
import email.feedparser
import email.header
import email.message
import email.utils
import re
from datetime import UTC, datetime, timedelta, timezone

from spam_core.message.limits import MAX_HEADER_DECODE_CHARS

_FOLD_RE = re.compile(r"\s+")
_MIN_YEAR, _MAX_YEAR = 1980, 2100


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
    headers and for API fields alike. Only the first ``MAX_HEADER_DECODE_CHARS`` characters
    are read (``decode_header`` is quadratic in the length; see ``limits``).
    """
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        chunks = value._chunks  # (str with surrogates, charset) pairs; no public accessor
        text = "".join(_unescape_surrogates(str(s)) for s, _ in chunks)
        text = text[:MAX_HEADER_DECODE_CHARS]
    else:
        text = _unescape_surrogates(str(value)[:MAX_HEADER_DECODE_CHARS])
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
