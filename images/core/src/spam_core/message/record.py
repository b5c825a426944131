"""The normalized e-mail record: the only input of the feature function."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# What the features read is capped, so one 2 MB message cannot cost 100x a normal one.
# The caps are applied while the record is built, so training and serving see the same text.
MAX_PART_CHARS = 200_000
"""Decoded characters read from one MIME part before any processing."""
MAX_TEXT_CHARS = 20_000
"""Characters kept of the plain text and of the HTML-derived text (each)."""
MAX_SUBJECT_CHARS = 1_000
MAX_URLS = 500


@dataclass(frozen=True, slots=True)
class EmailRecord:
    """One e-mail after parsing and normalization.

    Built either from a raw RFC 822 message (:func:`spam_core.message.parse_raw`) or from the
    API's fields (:func:`spam_core.message.parse_fields`); both go through the same
    normalization, so the same e-mail gives the same record and the same feature vector.
    """

    email_id: str
    subject: str
    """Decoded (RFC 2047) subject, whitespace collapsed."""
    sender: str
    """Decoded ``From`` value as given, e.g. ``Jane Doe <jane@example.com>``."""
    sender_name: str
    sender_address: str
    """Lower-cased address part of ``sender``; empty when none can be parsed."""
    sender_domain: str
    date: datetime | None
    """Timezone-aware send date from the ``Date`` header; ``None`` when missing or invalid."""
    text: str
    """Plain-text parts, decoded, newlines normalized, capped at ``MAX_TEXT_CHARS``."""
    html_text: str
    """Text derived from HTML parts (tags stripped, entities decoded), capped likewise."""
    urls: tuple[str, ...]
    """URLs found in plain text and in HTML ``href``/``src`` attributes, in order."""
    n_parts: int
    """Leaf MIME parts."""
    n_text_parts: int
    n_html_parts: int
    n_attachments: int
    """Leaf parts that are attachments or not text at all (images, archives, ...)."""
    n_html_tags: int

    @property
    def body(self) -> str:
        """Everything the reader sees: plain text then HTML-derived text."""
        if not self.html_text:
            return self.text
        if not self.text:
            return self.html_text
        return self.text + "\n" + self.html_text
