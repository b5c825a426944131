"""The text the TF-IDF block reads: one definition for fitting, serving and batch."""

from __future__ import annotations

from spam_core.message.record import EmailRecord


def document_text(record: EmailRecord) -> str:
    """Subject, plain text and HTML-derived text (already capped in the record)."""
    return f"{record.subject}\n{record.text}\n{record.html_text}"
