"""The scoring contract: what every path that scores an e-mail agrees on.

The transformer (online), the gateway (its client), batch jobs on Ray, the registered MLflow
pyfunc and ``spam-platform score`` all use these definitions, so they cannot disagree on:

* the **model tracks** (``TRACKS``: ``staging`` and ``production``; the KServe
  InferenceServices, the registry aliases and the ``X-Environment`` values);
* the **record** an input becomes (:func:`record_from_input`: the whole RFC 822 message when
  ``raw`` is given, else the fields);
* the **decision** (:func:`decide`: ``spam`` at or above the bundle's threshold, and how far
  the score is from it as ``low`` / ``medium`` / ``high`` confidence; :func:`spam_mask`, the
  same rule over an array of scores, for evaluation and drift baselines);
* the **prediction on the wire** (:class:`Prediction`: the fields every answer carries; the
  transformer adds the named features, the gateway the model and the latency).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from spam_core.message.parse import parse_fields, parse_raw
from spam_core.message.record import EmailRecord

Track = Literal["staging", "production"]
TRACKS: tuple[Track, ...] = ("staging", "production")
"""The model tracks, in this order everywhere (the registry aliases have the same names)."""

Label = Literal["spam", "ham"]
Confidence = Literal["low", "medium", "high"]


def record_from_input(
    email_id: str,
    *,
    raw: str | bytes | None = None,
    subject: str | None = None,
    body: str | None = None,
    sender: str | None = None,
    date: str | datetime | None = None,
) -> EmailRecord:
    """An e-mail as an API, a table row or a DataFrame gives it → the normalized record.

    A non-empty ``raw`` is the whole message (``parse_raw``); otherwise the fields are
    (``parse_fields``; a missing subject, body or sender is empty). ``InvalidEmailError``
    for input that is neither.
    """
    if raw:
        return parse_raw(raw, email_id=email_id)
    return parse_fields(email_id=email_id, subject=subject, body=body, sender=sender, date=date)


def label(probability: float, threshold: float) -> Label:
    """``spam`` at or above the threshold."""
    return "spam" if probability >= threshold else "ham"


def spam_mask(probabilities: Any, threshold: float) -> np.ndarray:
    """:func:`label`'s rule over many scores: ``True`` where the label is ``spam``."""
    return np.asarray(probabilities) >= threshold


def confidence(probability: float, threshold: float) -> Confidence:
    """How far the score is from the decision threshold, relative to the room on that side."""
    room = (1.0 - threshold) if probability >= threshold else threshold
    margin = abs(probability - threshold) / room if room > 0 else 1.0
    if margin >= 0.6:
        return "high"
    if margin >= 0.25:
        return "medium"
    return "low"


def decide(probability: float, threshold: float) -> tuple[Label, Confidence]:
    """The decision rule: label and confidence of one spam probability."""
    return label(probability, threshold), confidence(probability, threshold)


class Prediction(BaseModel):
    """One e-mail's prediction, as every API answers it (in this field order)."""

    email_id: str
    prediction: Label
    spam_probability: float = Field(ge=0.0, le=1.0)
    confidence: Confidence


PREDICTION_FIELDS: frozenset[str] = frozenset(Prediction.model_fields)
"""The keys every prediction on the wire carries (checked by the gateway's client)."""


def prediction(email_id: str, probability: float, threshold: float) -> dict[str, Any]:
    """A :class:`Prediction` as a plain dict (the hot paths serialize dicts, not models)."""
    verdict, how_sure = decide(probability, threshold)
    return {
        "email_id": email_id,
        "prediction": verdict,
        "spam_probability": probability,
        "confidence": how_sure,
    }
