"""What one e-mail may cost to parse: limits that hold in time and memory, not only in bytes.

Two kinds, each with its reason:

* **Refused** (:class:`EmailLimitExceeded`, an ``InvalidEmailError``: the services answer 422
  naming the limit) where the input cannot be a sensible message and reading it would cost
  more than a bounded amount of CPU: the raw size, the header block of any part, the number
  of headers, the MIME nesting depth and the number of MIME parts. The standard library's
  parser recurses per MIME level (``RecursionError`` from about 500 levels), and the time of a
  message grows with its parts.
* **Truncated** (documented, deterministic, the same in training and serving) where a prefix
  is enough for the features: a header value is decoded from its first
  ``MAX_HEADER_DECODE_CHARS`` characters (``email.header.decode_header`` is quadratic in the
  header's length; the subject the features read is capped at 1,000 characters anyway), and
  at most ``MAX_DECODED_CHARS`` decoded characters of text parts are read per message (later
  text parts are still counted as parts).

On the SpamAssassin corpus the largest values are 125 headers, a 15 KB header block, nesting
depth 3, 22 parts, a 746-character Subject/From/Date and 300 KB raw: every limit is far above,
so no corpus message is refused or truncated and its features are unchanged.
"""

from __future__ import annotations

from spam_core.errors import InvalidEmailError

MAX_RAW_BYTES = 10 * 1024 * 1024
"""Largest raw message accepted."""
MAX_HEADER_BYTES = 256 * 1024
"""Largest header block of the message or of any MIME part."""
MAX_HEADERS = 2_000
"""Most header fields in the whole message (all parts together)."""
MAX_MIME_DEPTH = 20
"""Deepest nesting of multipart / message parts (the top-level message is depth 0)."""
MAX_MIME_PARTS = 1_000
"""Most MIME entities (containers and leaves) in one message."""
MAX_HEADER_DECODE_CHARS = 8_192
"""Characters of a header value (Subject, From, Date) decoded; the rest is ignored."""
MAX_DECODED_CHARS = 1_000_000
"""Decoded characters of text parts read per message; later text parts are counted only."""


class EmailLimitExceeded(InvalidEmailError):
    """The message is over one of the limits above (refused, not truncated)."""

    def __init__(self, limit: str, value: int, maximum: int, what: str) -> None:
        super().__init__(f"{what}: {value} is over the limit {limit}={maximum}")
        self.limit = limit
        self.value = value
        self.maximum = maximum
