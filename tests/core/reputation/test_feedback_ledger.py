"""The feedback ledger's views reach a repository an earlier training run applied."""

from __future__ import annotations

import time
from pathlib import Path

from spam_core.reputation.feedback import FeedbackLedger, Report
from spam_core.reputation.repo import (
    LEDGER_VIEWS,
    definitions,
    ensure_ledger,
    open_store,
    write_local_repo,
)


def test_a_registry_without_the_ledger_views_gets_them(tmp_path: Path) -> None:
    write_local_repo(tmp_path)
    store = open_store(tmp_path)
    older = [o for o in definitions(tmp_path / "history") if o.name not in LEDGER_VIEWS]
    store.apply([o for o in older if not o.name.startswith("feedback_")])
    assert ensure_ledger(store, tmp_path) is True
    assert ensure_ledger(store, tmp_path) is False  # already there
    ledger = FeedbackLedger(store, max_per_sender_day=2, max_per_domain_day=2)
    now = time.time()
    out = ledger.apply(
        [Report("r", str(i), "a@b.example", "b.example", "spam", now) for i in (1, 2, 3)]
    )
    assert [o.status for o in out] == ["applied", "applied", "capped"]
    assert ledger.totals("sender", ["a@b.example"]) == {"a@b.example": (2, 2)}
