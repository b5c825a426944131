"""Wire schemas of POST /feedback and POST /feedback/batch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spam_core.feedback import STATUSES
from spam_core.message.wire import EmailFields, EmailIn
from spam_core.scoring import Label

MAX_REPORTS = 100
"""Most reports in one POST /feedback/batch."""

_CONTENT = ("subject", "body", "sender", "date", "raw")

_FORMS = [
    # a reference to a scored e-mail: no content at all ...
    {"title": "reference", "properties": {n: {"type": "null"} for n in _CONTENT}},
    # ... or the e-mail in one of POST /predict's two forms (EmailIn's either/or rule)
    *EmailIn.model_config["json_schema_extra"]["oneOf"],  # type: ignore[index]
]
"""The OpenAPI form of ``_email_or_reference``, so a schema-valid report is never refused."""


class FeedbackIn(EmailFields):
    """A reported label: the e-mail as ``POST /predict`` takes it (its fields or ``raw``) plus
    ``label``, or only ``email_id`` + ``label`` to name an e-mail this gateway scored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": _FORMS,
            "examples": [
                {
                    "email_id": "msg-001",
                    "subject": "Team meeting moved to Thursday",
                    "body": "Hi all, the weekly sync moves to Thursday 10:00.",
                    "sender": "Alice <alice@example.com>",
                    "label": "ham",
                },
                {"email_id": "msg-002", "label": "spam"},
            ],
        },
    )

    label: Label = Field(description="What the reporter says the e-mail is.")

    @model_validator(mode="after")
    def _email_or_reference(self) -> FeedbackIn:
        if self.has_content:
            try:
                self.email()
            except ValidationError as exc:
                raise ValueError(
                    "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
                ) from None
        return self

    @property
    def has_content(self) -> bool:
        return any(getattr(self, name) is not None for name in _CONTENT)

    def email(self) -> EmailIn:
        """The reported e-mail, validated as ``POST /predict`` validates it."""
        return EmailIn.model_validate(
            {"email_id": self.email_id, **{n: getattr(self, n) for n in _CONTENT}}
        )


class FeedbackBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: list[FeedbackIn] = Field(min_length=1, max_length=MAX_REPORTS)


class FeedbackOut(BaseModel):
    email_id: str
    email_key: str = Field(
        description="The e-mail's identity: SHA-256 of its sender address, subject, date and "
        "body text (the same e-mail under another email_id, raw or as fields, has the same)."
    )
    label: Label
    status: Literal["applied", "replaced", "duplicate", "capped", "no_sender"] = Field(
        description="; ".join(f"`{k}`: {v}" for k, v in STATUSES.items())
    )
    previous_label: Label | None = Field(
        None, description="This reporter's earlier label of the same e-mail, if any."
    )
    applied: bool = Field(description="Whether the sender and domain totals moved.")


class FeedbackBatchOut(BaseModel):
    reports: list[FeedbackOut]
    counts: dict[str, int] = Field(description="Reports per status.")
