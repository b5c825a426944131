"""User feedback → the sender and domain totals of the online store (Feast-native writes).

:class:`FeedbackLedger` decides what each report does and writes the result with Feast's
``write_to_online_store``, in the very feature views the transformer reads
(``sender_reputation`` / ``sender_domain_reputation``: running totals ``messages``, ``spam``),
so the next e-mail from that sender is scored with it as soon as the transformer's reputation
cache entry expires (``SPAM_TRANSFORMER_REPUTATION_CACHE_TTL_S``, 60 s by default).

Per report, in order (a batch is applied report by report):

* **de-duplication**: the ledger view ``feedback_report`` holds, per (reporter, e-mail
  identity ``spam_core.feedback.email_key``), the label the reporter's last applied report
  gave. The same label again → ``duplicate`` (nothing changes); another label → ``replaced``
  (``spam`` moves by ±1, ``messages`` stays); none → ``applied`` (``messages`` +1, ``spam``
  +1 for a spam report).
* **poisoning bound**: the ledger view ``feedback_daily_reports`` counts, per reporter and UTC
  day, the reports that moved one sender's totals and those that moved one domain's. A report
  that would exceed ``max_per_sender_day`` for its sender or ``max_per_domain_day`` for its
  domain is ``capped``: recorded in the feedback log, the totals and the ledger untouched. So
  one reporter adds at most ``max_per_sender_day`` labels to one sender per day (its spam rate
  ``(spam + 1) / (messages + 2)`` moves by a bounded amount), and at most
  ``max_per_domain_day`` to one domain, whatever the number of e-mails or addresses used.
* an e-mail without a sender address → ``no_sender`` (no entity to update).

The read-modify-write of the totals runs under one lock per process: a gateway applies its
reports one at a time. Two replicas updating the same sender in the same instant can lose one
increment online; the feedback log keeps every event, and :func:`rebuild_online` (the chart's
scheduled materialization) recomputes the totals from the offline history and the log.

Online event timestamps: Feast's Redis store ignores a write whose timestamp (in whole
seconds) is not later than the stored one, so each write is stamped
``max(now, previous + 1 s)``. The report's real time is in the feedback log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from spam_core.feedback import Label, Status, deltas
from spam_core.reputation.repo import (
    BOUND_KEY,
    BOUND_VIEW,
    COUNT_FIELDS,
    DOMAIN_KEY,
    DOMAIN_VIEW,
    REPORT_KEY,
    REPORT_VIEW,
    SENDER_KEY,
    SENDER_VIEW,
    VIEWS,
)

if TYPE_CHECKING:
    from feast import FeatureStore

_TS = "__ts"  # feast.online_response.TIMESTAMP_POSTFIX
_LABEL_CODE: dict[str, int] = {"ham": 0, "spam": 1}
_CODE_LABEL: dict[int, Label] = {0: "ham", 1: "spam"}
_ENTITY_VIEW = {SENDER_KEY: SENDER_VIEW, DOMAIN_KEY: DOMAIN_VIEW}


@dataclass(frozen=True, slots=True)
class Report:
    """One report, as the ledger needs it."""

    reporter: str
    email_key: str
    sender: str
    """Lower-cased sender address (the ``sender`` entity); empty when none."""
    domain: str
    label: Label
    timestamp: float
    """Report time (epoch seconds, UTC): its day is the day of the poisoning bound."""


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    previous_label: Label | None = None
    messages_delta: int = 0
    spam_delta: int = 0

    @property
    def moved(self) -> bool:
        return self.status in ("applied", "replaced")


def report_key(reporter: str, email_key: str) -> str:
    return f"{reporter}\x1f{email_key}"


def bound_key(reporter: str, entity: str, value: str, timestamp: float) -> str:
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return f"{reporter}\x1f{entity}\x1f{value}\x1f{day}"


class FeedbackLedger:
    def __init__(
        self, store: FeatureStore, *, max_per_sender_day: int, max_per_domain_day: int
    ) -> None:
        if max_per_sender_day < 1 or max_per_domain_day < 1:
            raise ValueError("the daily bounds must be at least 1")
        self.store = store
        self.max_per = {SENDER_KEY: max_per_sender_day, DOMAIN_KEY: max_per_domain_day}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reads
    def _read(self, view: str, key: str, fields: Sequence[str], values: Iterable[str]):
        """{value: ([field values or None], timestamp seconds or 0)} from the online store."""
        values = list(dict.fromkeys(values))
        if not values:
            return {}
        response = self.store.get_online_features(
            features=[f"{view}:{f}" for f in fields],
            entity_rows=[{key: v} for v in values],
            full_feature_names=True,
        ).to_dict(include_event_timestamps=True)
        out = {}
        for i, value in enumerate(values):
            got = [response[f"{view}__{f}"][i] for f in fields]
            stamps = [response.get(f"{view}__{f}{_TS}", [0] * len(values))[i] or 0 for f in fields]
            out[value] = (got, max(stamps))
        return out

    def totals(self, entity: str, values: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Current (messages, spam) of senders (``entity`` = ``sender``) or domains."""
        got = self._read(_ENTITY_VIEW[entity], entity, COUNT_FIELDS, values)
        return {v: (int(f[0] or 0), int(f[1] or 0)) for v, (f, _) in got.items()}

    # ------------------------------------------------------------------ apply
    def apply(self, reports: Sequence[Report]) -> list[Outcome]:
        """Decide and write every report (in order); the outcomes in the same order."""
        with self._lock:
            return self._apply(reports)

    def _apply(self, reports: Sequence[Report]) -> list[Outcome]:
        with_sender = [r for r in reports if r.sender]
        labels = {
            k: (_CODE_LABEL[int(v[0][0])] if v[0][0] is not None else None)
            for k, v in self._read(
                REPORT_VIEW, REPORT_KEY, ["label"],
                (report_key(r.reporter, r.email_key) for r in with_sender),
            ).items()
        }  # fmt: skip
        bound_keys = {
            (r, entity): bound_key(r.reporter, entity, value, r.timestamp)
            for r in with_sender
            for entity, value in ((SENDER_KEY, r.sender), (DOMAIN_KEY, r.domain))
            if value
        }
        counts = {
            k: int(v[0][0] or 0)
            for k, v in self._read(BOUND_VIEW, BOUND_KEY, ["reports"], bound_keys.values()).items()
        }
        current = {
            SENDER_KEY: self._read(
                SENDER_VIEW, SENDER_KEY, COUNT_FIELDS, (r.sender for r in with_sender)
            ),
            DOMAIN_KEY: self._read(
                DOMAIN_VIEW, DOMAIN_KEY, COUNT_FIELDS, (r.domain for r in with_sender if r.domain)
            ),
        }
        totals = {
            (entity, value): [int(f[0] or 0), int(f[1] or 0)]
            for entity, got in current.items()
            for value, (f, _) in got.items()
        }
        stamps = {
            (entity, value): ts for entity, got in current.items() for value, (_, ts) in got.items()
        }
        changed_labels: dict[str, int] = {}
        changed_counts: dict[str, int] = {}
        changed_totals: set[tuple[str, str]] = set()
        outcomes = []
        for r in reports:
            if not r.sender:
                outcomes.append(Outcome("no_sender"))
                continue
            rkey = report_key(r.reporter, r.email_key)
            previous = labels.get(rkey)
            if previous == r.label:
                outcomes.append(Outcome("duplicate", previous))
                continue
            entities = [(e, v) for e, v in ((SENDER_KEY, r.sender), (DOMAIN_KEY, r.domain)) if v]
            if any(counts.get(bound_keys[(r, e)], 0) >= self.max_per[e] for e, _ in entities):
                outcomes.append(Outcome("capped", previous))
                continue
            d_messages, d_spam = deltas(r.label, previous)
            for entity, value in entities:
                total = totals.setdefault((entity, value), [0, 0])
                total[0] += d_messages
                total[1] += d_spam
                changed_totals.add((entity, value))
                bkey = bound_keys[(r, entity)]
                counts[bkey] = changed_counts[bkey] = counts.get(bkey, 0) + 1
            labels[rkey] = r.label
            changed_labels[rkey] = _LABEL_CODE[r.label]
            outcomes.append(
                Outcome("replaced" if previous else "applied", previous, d_messages, d_spam)
            )
        self._write_totals({k: totals[k] for k in changed_totals}, stamps)
        now = pd.Timestamp(int(time.time()), unit="s", tz="UTC")
        if changed_counts:
            self._write(BOUND_VIEW, BOUND_KEY, {"reports": changed_counts}, now)
        if changed_labels:
            self._write(REPORT_VIEW, REPORT_KEY, {"label": changed_labels}, now)
        return outcomes

    # ------------------------------------------------------------------ writes
    def _write(self, view: str, key: str, columns: dict[str, dict[str, int]], at) -> None:
        (field, values), *_ = columns.items()
        frame = pd.DataFrame(
            {
                key: list(values),
                field: np.asarray(list(values.values()), dtype=np.int64),
                "event_timestamp": [at] * len(values),
            }
        )
        self.store.write_to_online_store(view, frame)

    def _write_totals(
        self, totals: dict[tuple[str, str], list[int]], stamps: dict[tuple[str, str], int]
    ) -> None:
        """New totals, each stamped max(now, previous + 1 s) (see the module docstring)."""
        now = int(time.time())
        for entity, view in _ENTITY_VIEW.items():
            rows = [(v, t) for (e, v), t in totals.items() if e == entity]
            if not rows:
                continue
            frame = pd.DataFrame(
                {
                    entity: [v for v, _ in rows],
                    "messages": np.asarray([max(0, t[0]) for _, t in rows], dtype=np.int64),
                    "spam": np.asarray([max(0, t[1]) for _, t in rows], dtype=np.int64),
                    "event_timestamp": pd.to_datetime(
                        [max(now, stamps.get((entity, v), 0) + 1) for v, _ in rows],
                        unit="s",
                        utc=True,
                    ),
                }
            )
            self.store.write_to_online_store(view, frame)

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, events: pd.DataFrame, base: dict[tuple[str, str], tuple[int, int]]) -> int:
        """Online totals of every entity the feedback ``events`` touched := ``base`` (the
        offline history's latest totals) + the sum of the events' deltas. Idempotent."""
        moved = events[events["status"].isin(["applied", "replaced"])]
        sums: dict[tuple[str, str], list[int]] = {}
        for entity, column in ((SENDER_KEY, "sender"), (DOMAIN_KEY, "sender_domain")):
            grouped = moved[moved[column].fillna("") != ""].groupby(column)
            for value, group in grouped[["messages_delta", "spam_delta"]].sum().iterrows():
                b = base.get((entity, str(value)), (0, 0))
                sums[(entity, str(value))] = [
                    b[0] + int(group["messages_delta"]),
                    b[1] + int(group["spam_delta"]),
                ]
        with self._lock:
            stamps = {}
            for entity in (SENDER_KEY, DOMAIN_KEY):
                got = self._read(
                    _ENTITY_VIEW[entity], entity, COUNT_FIELDS, (v for e, v in sums if e == entity)
                )
                stamps.update({(entity, v): ts for v, (_, ts) in got.items()})
            self._write_totals(sums, stamps)
        return len(sums)


def offline_totals(
    store: FeatureStore, senders: Sequence[str], domains: Sequence[str], at: datetime
) -> dict[tuple[str, str], tuple[int, int]]:
    """The offline history's latest totals at ``at`` (point-in-time retrieval) of these
    senders and domains; unknown ones are left out."""
    from spam_core.reputation.offline import historical_stats

    n = max(len(senders), len(domains))
    if n == 0:
        return {}
    senders = [*senders, *[""] * (n - len(senders))]
    domains = [*domains, *[""] * (n - len(domains))]
    entities = pd.DataFrame(
        {
            "email_id": [str(i) for i in range(n)],
            SENDER_KEY: senders,
            DOMAIN_KEY: domains,
            "event_timestamp": pd.Series([pd.Timestamp(at)] * n, dtype="datetime64[ns, UTC]"),
        }
    )
    stats = historical_stats(store, entities)
    out: dict[tuple[str, str], tuple[int, int]] = {}
    for i in range(n):
        for j, key in enumerate(VIEWS.values()):
            value = entities[key].iloc[i]
            if value and stats[i, 2 * j] > 0:
                out[(key, value)] = (int(stats[i, 2 * j]), int(stats[i, 2 * j + 1]))
    return out
