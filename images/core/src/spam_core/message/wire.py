"""The e-mail as the APIs carry it: one wire model for the gateway and the transformer.

An e-mail is either its fields (``subject``, ``body``, ``sender``, optional ``date``) or the
whole RFC 822 message as ``raw``; :func:`spam_core.message.parse_fields` and
:func:`spam_core.message.parse_raw` turn either into the same ``EmailRecord``. The gateway
validates a caller's e-mail with this model and forwards :meth:`EmailIn.upstream`; the
transformer validates what arrives with the same model, so the two cannot disagree on what
an e-mail is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_FIELDS = ("subject", "body", "sender")


RAW_PATTERN = r"[^ \t\n\r\x0b\x0c]"
"""``raw`` is not only blanks (what parse_raw refuses as empty: bytes.strip's whitespace)."""


class EmailFields(BaseModel):
    """An e-mail's id and content as the APIs carry them, with their limits: the one
    declaration of these fields (:class:`EmailIn`; the gateway's feedback report adds a label
    and allows a bare reference)."""

    email_id: str = Field(min_length=1, max_length=256)
    subject: str | None = Field(None, max_length=100_000)
    body: str | None = None
    sender: str | None = Field(
        None, max_length=10_000, description="The From value, e.g. `Ann <ann@example.org>`."
    )
    date: str | None = Field(
        None, max_length=200, description="RFC 2822 or ISO 8601 send date (optional)."
    )
    raw: str | None = Field(
        None,
        min_length=1,
        pattern=RAW_PATTERN,
        description="Full RFC 822 message.",
    )


class EmailIn(EmailFields):
    """One e-mail: either its fields (``subject``, ``body``, ``sender``, optional ``date``) or
    the whole RFC 822 message as ``raw``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # the either/or rule of _fields_or_raw, for the OpenAPI document
            "oneOf": [
                {
                    "title": "raw",
                    "required": ["raw"],
                    "properties": {
                        "raw": {"type": "string"},
                        **{n: {"type": "null"} for n in (*_FIELDS, "date")},
                    },
                },
                {
                    "title": "fields",
                    "required": list(_FIELDS),
                    "properties": {
                        **{n: {"type": "string"} for n in _FIELDS},
                        "raw": {"type": "null"},
                    },
                },
            ],
            "examples": [
                {
                    "email_id": "msg-001",
                    "subject": "Team meeting moved to Thursday",
                    "body": "Hi all, the weekly sync moves to Thursday 10:00.",
                    "sender": "Alice <alice@example.com>",
                    "date": "Tue, 03 Sep 2002 10:15:00 +0200",
                },
                {"email_id": "msg-002", "raw": "From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"},
            ],
        },
    )

    @model_validator(mode="after")
    def _fields_or_raw(self) -> EmailIn:
        if self.raw is not None:
            given = [n for n in (*_FIELDS, "date") if getattr(self, n) is not None]
            if given:
                raise ValueError(
                    "give either raw or subject/body/sender/date, not both "
                    f"(got raw and {', '.join(given)})"
                )
        else:
            missing = [n for n in _FIELDS if getattr(self, n) is None]
            if missing:
                raise ValueError(f"missing {', '.join(missing)} (or give the whole message as raw)")
        return self

    def upstream(self) -> dict[str, Any]:
        """The e-mail as the transformer takes it (only the given form's keys)."""
        if self.raw is not None:
            return {"email_id": self.email_id, "raw": self.raw}
        out: dict[str, Any] = {
            "email_id": self.email_id,
            "subject": self.subject,
            "body": self.body,
            "sender": self.sender,
        }
        if self.date is not None:
            out["date"] = self.date
        return out
