"""The shadow section of ``promote``: the candidate beside production on live traffic.

The gateway's shadow scoring (``spam_gateway.app.shadow``, ``SPAM_GATEWAY_SHADOW_*``) has the
staging model score a sampled share of the production track's e-mails and writes both scores
to the shadow log (``spam_core.shadow_log``). :func:`shadow_summary` reads the rows where the
candidate scored in the shadow of the current production version, from the same moment as the
feedback slice (the production model's training run start), and reports:

* ``rows`` — how many, and ``other_rows``: rows of the window from other version pairs (an
  earlier staging or production version), left out;
* ``agreement`` — the share of rows where both models gave the same prediction (each at its own
  threshold);
* on the rows a user labelled — the feedback log's ``applied`` / ``replaced`` reports since the
  same moment, each e-mail's latest label, joined on ``email_key`` (the e-mail's identity,
  whatever its ``email_id``) — each model's metrics (``promote.slice_metrics``), which
  ``promote`` compares as the ``shadow`` slice with the one rule of the other slices.

Labelled shadow rows are the e-mails users reported, and users report mostly what production
got wrong: production's accuracy there is low by selection, and the candidate's is its accuracy
on production's mistakes. The slice can only refuse a candidate that is worse than production
on the same reported e-mails; agreement is shown, not gated (no direction is better).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass
class ShadowSummary:
    url: str
    since: datetime | None
    candidate: str
    previous: str | None
    rows: int = 0
    other_rows: int = 0
    agreement: float | None = None
    labelled: int = 0
    candidate_metrics: dict[str, float] | None = None
    """On the labelled rows, from the candidate's shadow scores."""
    previous_metrics: dict[str, float] | None = None
    """On the same rows, from production's logged scores."""
    error: str | None = None

    def note(self) -> str:
        if self.error:
            return f"shadow log at {self.url}: {self.error}"
        since = f"since {self.since.isoformat(timespec='seconds')}" if self.since else ""
        beside = f"beside v{self.previous}" if self.previous else "(no production version)"
        agreement = (
            f", agreement {self.agreement:.2%}" if self.agreement is not None else ", no agreement"
        )
        return (
            f"{self.rows} live production e-mails scored by v{self.candidate} {beside} {since}"
            f"{agreement}, {self.labelled} labelled by feedback ({self.other_rows} rows of other "
            f"versions left out; {self.url})"
        )

    def record(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "agreement": None if self.agreement is None else round(self.agreement, 6),
            "labelled": self.labelled,
            "other_rows": self.other_rows,
        }


def feedback_labels(url: str, since: datetime | None) -> dict[str, bool]:
    """``email_key`` → spam? from the feedback log: labelling reports after ``since``, each
    e-mail's latest label (content or not: the key is what the shadow rows carry)."""
    from spam_core import feedback
    from spam_core.storage import open_location

    location = open_location(url)
    columns = ["timestamp", "email_key", "label", "status"]
    table = feedback.read_log(location.fs, location.root, since=since, columns=columns)
    latest: dict[str, bool] = {}
    for row in sorted(table.to_pylist(), key=lambda r: r["timestamp"]):
        if (
            row["email_key"]
            and row["status"] in feedback.LABELLING
            and row["label"] in feedback.LABELS
        ):
            latest[row["email_key"]] = row["label"] == "spam"
    return latest


def _side_metrics(y: np.ndarray, rows: list[dict], side: str) -> dict[str, float]:
    """``slice_metrics`` of one side's logged scores at its logged threshold (one model, one
    threshold); from its logged predictions when the rows carry none."""
    from spam_trainer.promote import slice_metrics

    thresholds = {r[f"{side}_threshold"] for r in rows}
    if len(thresholds) == 1 and None not in thresholds:
        scores = np.array([r[f"{side}_spam_probability"] for r in rows], dtype=np.float64)
        return slice_metrics(y, scores, thresholds.pop())
    predicted = np.array([r[f"{side}_prediction"] == "spam" for r in rows], dtype=np.float64)
    return slice_metrics(y, predicted, 0.5)


def shadow_summary(
    url: str,
    since: datetime | None,
    candidate: str,
    previous: str | None,
    *,
    feedback_url: str | None,
) -> ShadowSummary:
    """The shadow rows of ``candidate`` beside ``previous`` after ``since`` (module doc). A log
    that cannot be read gives a summary with ``error`` and no rows (promotion goes on offline)."""
    from spam_core import shadow_log
    from spam_core.storage import open_location

    summary = ShadowSummary(url, since, candidate, previous)
    columns = [
        "timestamp",
        "email_key",
        *(
            f"{side}_{name}"
            for side in shadow_log.SIDES
            for name in ("model_version", "spam_probability", "prediction", "threshold")
        ),
    ]
    try:
        location = open_location(url)
        table = shadow_log.read_log(location.fs, location.root, since=since, columns=columns)
        labels = feedback_labels(feedback_url, since) if feedback_url else {}
    except (OSError, ValueError) as exc:
        summary.error = f"{type(exc).__name__}: {exc}"[:300]
        return summary
    all_rows = table.to_pylist()
    rows = [
        r
        for r in all_rows
        if r["shadow_model_version"] == candidate and r["production_model_version"] == previous
    ]
    summary.rows, summary.other_rows = len(rows), len(all_rows) - len(rows)
    if rows:
        same = sum(r["shadow_prediction"] == r["production_prediction"] for r in rows)
        summary.agreement = same / len(rows)
    labelled = [r for r in rows if r["email_key"] in labels]
    summary.labelled = len(labelled)
    if labelled:
        y = np.array([labels[r["email_key"]] for r in labelled], dtype=np.float32)
        summary.candidate_metrics = _side_metrics(y, labelled, "shadow")
        summary.previous_metrics = _side_metrics(y, labelled, "production")
    return summary
