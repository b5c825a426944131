"""Labeled e-mails -> reputation history tables, and the entity frame of a retrieval.

No leakage, by construction: the history row written for the e-mails of one entity at time
``t`` holds the running totals *including* them and is stamped ``t + EVENT_SHIFT``. Feast's
point-in-time join takes, for an e-mail at time ``t``, the latest row stamped ``<= t``, so an
e-mail never sees its own label (nor those of e-mails sent in the same second), only earlier
ones. E-mails without a usable date are placed at the latest known date: they see the whole
history, as a live e-mail does, and add to it last.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd

from spam_core.reputation.repo import COUNT_FIELDS, DOMAIN_KEY, DOMAIN_VIEW, SENDER_KEY, SENDER_VIEW

EVENT_SHIFT = timedelta(seconds=1)
NO_DATES = datetime(2000, 1, 1, tzinfo=UTC)
"""Event time for every e-mail when none has a date at all."""


def event_times(dates: Sequence[datetime | None]) -> pd.Series:
    """UTC event times; a missing date becomes the latest known one."""
    known = [d for d in dates if d is not None]
    fallback = max(known) if known else NO_DATES
    return pd.Series(
        pd.to_datetime([d if d is not None else fallback for d in dates], utc=True),
        dtype="datetime64[ns, UTC]",
    )


def entity_frame(
    email_ids: Sequence[str],
    senders: Sequence[str],
    domains: Sequence[str],
    times: pd.Series,
) -> pd.DataFrame:
    """The rows to retrieve history for: one per e-mail, at its own event time."""
    return pd.DataFrame(
        {
            "email_id": list(email_ids),
            SENDER_KEY: list(senders),
            DOMAIN_KEY: list(domains),
            "event_timestamp": times.to_numpy(),
        }
    )


def _running_totals(keys: Sequence[str], times: pd.Series, spam: Sequence[bool], key: str):
    frame = pd.DataFrame(
        {key: list(keys), "t": times.to_numpy(), "spam": [int(bool(s)) for s in spam]}
    )
    frame = frame[frame[key] != ""]
    per_time = (
        frame.groupby([key, "t"], sort=True)
        .agg(messages=("spam", "size"), spam=("spam", "sum"))
        .reset_index()
    )
    totals = per_time.groupby(key, sort=False)[list(COUNT_FIELDS)].cumsum()
    out = pd.DataFrame(
        {
            key: per_time[key],
            "event_timestamp": per_time["t"] + EVENT_SHIFT,
            "messages": totals["messages"].astype("int64"),
            "spam": totals["spam"].astype("int64"),
        }
    )
    return out.reset_index(drop=True)


def build_history(
    senders: Sequence[str],
    domains: Sequence[str],
    times: pd.Series,
    is_spam: Sequence[bool],
) -> dict[str, pd.DataFrame]:
    """Feature view name -> history table (entity key, event_timestamp, messages, spam)."""
    if not len(senders) == len(domains) == len(times) == len(is_spam):
        raise ValueError("senders, domains, times and labels differ in length")
    return {
        SENDER_VIEW: _running_totals(senders, times, is_spam, SENDER_KEY),
        DOMAIN_VIEW: _running_totals(domains, times, is_spam, DOMAIN_KEY),
    }
