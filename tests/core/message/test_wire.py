"""The one e-mail wire model shared by the gateway and the transformer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spam_core.message import parse_fields, parse_raw
from spam_core.message.wire import EmailIn

FIELDS = {"email_id": "a", "subject": "s", "body": "b", "sender": "x@y.example"}


def test_both_apis_validate_with_the_same_model():
    from spam_gateway.app import models as gateway_models
    from spam_transformer.protocol import datamodels as transformer_models

    assert gateway_models.EmailIn is EmailIn is transformer_models.EmailIn
    assert transformer_models.PredictRequest.model_fields["emails"].annotation == list[EmailIn]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"email_id": "a"}, "missing subject, body, sender (or give the whole message as raw)"),
        ({"email_id": "a", "subject": "s", "body": "b"}, "missing sender"),
        ({"email_id": "a", "raw": "Subject: s\n\nb", "date": "x"}, "not both (got raw and date)"),
        ({**FIELDS, "raw": "Subject: s\n\nb"}, "got raw and subject, body, sender"),
        ({**FIELDS, "email_id": ""}, "at least 1 character"),
        ({**FIELDS, "email_id": "x" * 257}, "at most 256 characters"),
        ({"email_id": "a", "raw": ""}, "at least 1 character"),
        ({**FIELDS, "extra": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_emails_say_why(payload, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EmailIn.model_validate(payload)


def test_upstream_keeps_only_the_given_form_and_parses_alike():
    fields = EmailIn.model_validate({**FIELDS, "date": "Tue, 03 Sep 2002 10:15:00 +0200"})
    assert fields.upstream() == {**FIELDS, "date": "Tue, 03 Sep 2002 10:15:00 +0200"}
    assert "date" not in EmailIn.model_validate(FIELDS).upstream()
    raw = "From: x@y.example\r\nSubject: s\r\nDate: Tue, 03 Sep 2002 10:15:00 +0200\r\n\r\nb\r\n"
    as_raw = EmailIn.model_validate({"email_id": "a", "raw": raw})
    assert as_raw.upstream() == {"email_id": "a", "raw": raw}
    assert parse_raw(raw, "a") == parse_fields(**fields.upstream())
