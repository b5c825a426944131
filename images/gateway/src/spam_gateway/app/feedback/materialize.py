"""Scheduled materialization (``spam-gateway materialize``): keep the online store current.

1. Feast's ``materialize_incremental`` of the reputation views: the offline history (what
   training applied) since the last run into the online store;
2. for every sender and domain the feedback log names: online total := the offline history's
   latest total + the sum of the log's applied deltas (``FeedbackLedger.rebuild``). Idempotent,
   so it repairs what a gateway's read-modify-write lost (two replicas updating one sender at
   once, a Redis restart) and what step 1 overwrote on a store that does not keep the newer
   row (SQLite).

Reads ``SPAM_GATEWAY_FEEDBACK_FEAST_REPO`` and ``SPAM_GATEWAY_FEEDBACK_LOG_URL`` (credentials
as for the inference log). The whole log is read each run: its rows are small, one per report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from spam_gateway.app.core.config import Settings
from spam_gateway.app.inference_log import LogStore

log = structlog.get_logger("spam_gateway.feedback")

COLUMNS = ["sender", "sender_domain", "status", "messages_delta", "spam_delta"]


def read_events(settings: Settings):
    """The feedback log's rows (``COLUMNS``) as a DataFrame; empty when there is none yet."""
    import pandas as pd
    import pyarrow.dataset as ds

    store = LogStore(
        settings.FEEDBACK_LOG_URL,
        **settings.store_credentials(),
        timeout_s=settings.INFERENCE_LOG_TIMEOUT_S,
    )
    if not store.fs.exists(store.root):
        return pd.DataFrame({c: [] for c in COLUMNS})
    dataset = ds.dataset(
        store.root,
        filesystem=store.fs,
        format="parquet",
        partitioning="hive",
        exclude_invalid_files=True,
    )
    return dataset.to_table(columns=COLUMNS).to_pandas()


def materialize(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    from spam_core.reputation.feedback import FeedbackLedger, offline_totals
    from spam_core.reputation.offline import quiet
    from spam_core.reputation.repo import VIEWS, open_store

    if settings.FEEDBACK_FEAST_REPO is None:
        raise ValueError("SPAM_GATEWAY_FEEDBACK_FEAST_REPO is not set")
    now = now or datetime.now(UTC)
    store = open_store(settings.FEEDBACK_FEAST_REPO)
    with quiet():
        store.materialize_incremental(end_date=now, feature_views=list(VIEWS))
    events = read_events(settings)
    moved = events[events["status"].isin(["applied", "replaced"])]
    senders = sorted({s for s in moved["sender"].dropna() if s})
    domains = sorted({d for d in moved["sender_domain"].dropna() if d})
    base = offline_totals(store, senders, domains, now)
    ledger = FeedbackLedger(
        store,
        max_per_sender_day=settings.FEEDBACK_MAX_PER_SENDER_DAY,
        max_per_domain_day=settings.FEEDBACK_MAX_PER_DOMAIN_DAY,
    )
    written = ledger.rebuild(events, base)
    summary = {
        "materialized_until": now.isoformat(timespec="seconds"),
        "feedback_events": len(events),
        "senders": len(senders),
        "domains": len(domains),
        "totals_written": written,
    }
    log.info("feedback.materialized", **summary)
    return summary
