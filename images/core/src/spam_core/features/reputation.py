"""Sender / sender-domain reputation: the statistics, their keys, and the feature transform.

The feature store (Feast, :mod:`spam_core.reputation`) keeps per-entity *statistics* — how many
labeled e-mails came from a sender address / a sender domain and how many of them were spam.
This module turns those statistics into the ``REPUTATION`` block of the vector
(``spam_core.features.spec``), once, for every path: training reads the statistics by Feast's
point-in-time retrieval, the transformer and batch scoring from the online store; all of them
hand a stats matrix to :func:`reputation_features` through a :class:`ReputationSource`.

Stats layout, one row per e-mail, float64: ``STAT_COLUMNS`` =
``(sender_messages, sender_spam, domain_messages, domain_spam)``. An entity the store does
not know has zero counts, which gives the spec's documented defaults (count 0, rate 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from spam_core.features.spec import N_REPUTATION
from spam_core.message.record import EmailRecord

STAT_COLUMNS: tuple[str, ...] = (
    "sender_messages",
    "sender_spam",
    "domain_messages",
    "domain_spam",
)
N_STATS = len(STAT_COLUMNS)

SMOOTHING_PRIOR = 0.5
"""The spam rate of an entity without history."""
SMOOTHING_WEIGHT = 2.0
"""Pseudo-messages of the prior: rate = (spam + prior * weight) / (messages + weight)."""


def reputation_keys(record: EmailRecord) -> tuple[str, str]:
    """(sender address, sender domain) the store is keyed by; ``""`` when there is none.

    Both are lower-cased by the parser (``EmailRecord.sender_address`` / ``sender_domain``);
    an empty key is never looked up and never written.
    """
    return record.sender_address, record.sender_domain


def no_history(n: int) -> np.ndarray:
    """Stats of ``n`` e-mails whose senders the store does not know."""
    return np.zeros((n, N_STATS), dtype=np.float64)


def reputation_features(stats: np.ndarray) -> np.ndarray:
    """(n, N_STATS) statistics -> (n, N_REPUTATION) feature values, in the spec's order."""
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2 or stats.shape[1] != N_STATS:
        raise ValueError(f"reputation stats must be (n, {N_STATS}), got {list(stats.shape)}")
    if not np.isfinite(stats).all() or (stats < 0).any():
        raise ValueError("reputation stats must be finite, non-negative counts")
    out = np.empty((len(stats), N_REPUTATION), dtype=np.float64)
    prior = SMOOTHING_PRIOR * SMOOTHING_WEIGHT
    for j, (messages, spam) in enumerate(((0, 1), (2, 3))):
        out[:, 2 * j] = np.log1p(stats[:, messages])
        out[:, 2 * j + 1] = (stats[:, spam] + prior) / (stats[:, messages] + SMOOTHING_WEIGHT)
    return out


class ReputationSource(Protocol):
    """Where a path gets the reputation statistics of the e-mails it scores."""

    def stats(self, records: Sequence[EmailRecord]) -> np.ndarray:
        """(len(records), N_STATS) float64, in the order of ``records``; never raises for an
        unknown entity (zero counts)."""
        ...


class NoHistory:
    """Every sender unknown: the documented defaults. For tools that score without a store
    (``features extract``, unit tests); services always name their store."""

    def stats(self, records: Sequence[EmailRecord]) -> np.ndarray:
        return no_history(len(records))


class FixedStats:
    """Stats already looked up for exactly the records about to be transformed (an async
    caller fetches them first, then hands them to the extractor)."""

    def __init__(self, stats: np.ndarray) -> None:
        self._stats = np.asarray(stats, dtype=np.float64)

    def stats(self, records: Sequence[EmailRecord]) -> np.ndarray:
        if len(records) != len(self._stats):
            raise ValueError(f"stats for {len(self._stats)} e-mails, asked for {len(records)}")
        return self._stats


class StatsByEmailId:
    """Stats looked up by ``email_id``, e.g. the result of a point-in-time retrieval.

    An id it does not hold is an error, not a default: a training row without its retrieved
    history would be a silent train/serve difference.
    """

    def __init__(self, ids: Sequence[str], stats: np.ndarray) -> None:
        stats = np.asarray(stats, dtype=np.float64)
        if stats.shape != (len(ids), N_STATS):
            raise ValueError(f"{len(ids)} ids but stats of shape {list(stats.shape)}")
        self._rows = {email_id: i for i, email_id in enumerate(ids)}
        self._stats = stats

    def stats(self, records: Sequence[EmailRecord]) -> np.ndarray:
        try:
            index = [self._rows[r.email_id] for r in records]
        except KeyError as exc:
            raise KeyError(f"no reputation statistics for e-mail {exc.args[0]!r}") from None
        return self._stats[index]
