"""The scoring contract every scoring path shares (spam_core.scoring)."""

from __future__ import annotations

import pytest

from spam_core.errors import InvalidEmailError
from spam_core.message.parse import parse_fields, parse_raw
from spam_core.scoring import (
    PREDICTION_FIELDS,
    TRACKS,
    Prediction,
    confidence,
    decide,
    label,
    prediction,
    record_from_input,
    spam_mask,
)

RAW = "From: Ann <ann@example.org>\r\nSubject: lunch?\r\n\r\nTomorrow at noon.\r\n"


def test_raw_input_is_the_whole_message():
    assert record_from_input("m1", raw=RAW) == parse_raw(RAW, email_id="m1")
    assert record_from_input("m1", raw=RAW.encode()) == parse_raw(RAW.encode(), email_id="m1")


def test_fields_input_and_empty_raw_fall_back_to_the_fields():
    fields = {"subject": "lunch?", "body": "Tomorrow at noon.", "sender": "ann@example.org"}
    expected = parse_fields(email_id="m2", **fields)
    assert record_from_input("m2", **fields) == expected
    assert record_from_input("m2", raw="", **fields) == expected
    assert record_from_input("m2", raw=None, **fields) == expected


def test_non_string_fields_are_refused():
    with pytest.raises(InvalidEmailError, match="subject must be a string"):
        record_from_input("m3", subject=3.5, body="x", sender="a@b.example")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("p", "t", "expected"),
    [
        (0.5, 0.5, ("spam", "low")),  # at the threshold: spam
        (0.49, 0.5, ("ham", "low")),
        (0.99, 0.5, ("spam", "high")),
        (0.01, 0.5, ("ham", "high")),
        (0.7, 0.5, ("spam", "medium")),
        (1.0, 1.0, ("spam", "high")),  # no room above the threshold
        (0.0, 0.0, ("spam", "low")),  # everything is spam, none by a margin
    ],
)
def test_decision_rule(p, t, expected):
    assert decide(p, t) == expected == (label(p, t), confidence(p, t))
    # the array form (evaluation, drift baselines) labels exactly as label() does
    assert spam_mask([p, p], t).tolist() == [expected[0] == "spam"] * 2


def test_prediction_wire_shape():
    out = prediction("m4", 0.93, 0.52)
    assert list(out) == list(Prediction.model_fields) and set(out) == PREDICTION_FIELDS
    assert Prediction.model_validate(out).prediction == "spam"
    assert TRACKS == ("staging", "production")


def test_every_api_answers_the_contract():
    from spam_gateway.app.models import PredictionOut as GatewayPrediction
    from spam_transformer.protocol.datamodels import PredictionOut as TransformerPrediction

    for model in (GatewayPrediction, TransformerPrediction):
        assert issubclass(model, Prediction)
        assert list(model.model_fields)[: len(PREDICTION_FIELDS)] == list(Prediction.model_fields)


def test_job_status_speaks_one_vocabulary_and_reads_earlier_documents():
    from spam_core.jobs import JobStatus

    earlier = JobStatus.model_validate(
        {
            "job_id": "batch-1",
            "state": "queued",
            "environment": "staging",
            "model_ref": "models:/spam-detector/1",
            "input_uri": "in.parquet",
            "output_uri": "out.parquet",
        }
    )
    assert (earlier.state, earlier.input_path, earlier.output_path) == (
        "pending",
        "in.parquet",
        "out.parquet",
    )
    dumped = earlier.model_dump()
    assert dumped["input_path"] == "in.parquet" and "input_uri" not in dumped
