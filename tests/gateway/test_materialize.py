"""``spam-gateway materialize`` (the chart's scheduled materialization) on a real Feast store.

Feedback applied by the ledger and logged as the gateway logs it; then the online totals are
damaged (a lost update, a store that lost the rows); the command restores, for every sender
and domain in the feedback log, the offline history's total plus the log's applied deltas, and
a second run changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from spam_core import feedback as schema
from tests.utils.gateway import API_KEYS_JSON
from tests.utils.serving import sqlite_feast_copy

pytestmark = pytest.mark.timeout(180)


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "spam-gateway"
    return subprocess.run(
        [str(exe), "materialize"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_materialize_restores_history_plus_feedback(
    feast_repo: Path, known_sender, tmp_path: Path
) -> None:
    from spam_core.reputation.feedback import FeedbackLedger, Report
    from spam_core.reputation.repo import open_store

    repo = sqlite_feast_copy(feast_repo, tmp_path / "feast")
    ledger = FeedbackLedger(open_store(repo), max_per_sender_day=10, max_per_domain_day=10)
    known, new = known_sender.address, "fresh@new-domain.example"
    now = time.time()
    reports = [Report("r", f"k{i}", known, known_sender.domain, "ham", now) for i in range(3)]
    reports += [Report("r", f"n{i}", new, "new-domain.example", "spam", now) for i in range(2)]
    reports += [Report("r", "k0", known, known_sender.domain, "ham", now)]  # a duplicate
    outcomes = ledger.apply(reports)
    assert [o.status for o in outcomes] == ["applied"] * 5 + ["duplicate"]
    expected = {
        known: (known_sender.messages + 3, known_sender.spam),
        new: (2, 2),
    }
    assert ledger.totals("sender", [known, new]) == expected
    rows = [
        {
            "timestamp": now,
            "reporter": r.reporter,
            "email_key": r.email_key,
            "label": r.label,
            "status": o.status,
            "sender": r.sender,
            "sender_domain": r.domain,
            "messages_delta": o.messages_delta,
            "spam_delta": o.spam_delta,
        }
        for r, o in zip(reports, outcomes, strict=True)
    ]
    log_dir = tmp_path / "feedback-logs"
    (log_dir / "date=2026-12-05" / "hour=10").mkdir(parents=True)
    (log_dir / "date=2026-12-05" / "hour=10" / "part-1.parquet").write_bytes(
        schema.to_parquet(rows)
    )
    # damage: the known sender back at its history (an overwrite), the new one lost entirely
    ledger._write_totals(
        {("sender", known): [known_sender.messages, known_sender.spam], ("sender", new): [0, 0]},
        {},
    )
    assert ledger.totals("sender", [known, new]) != expected
    # only what the chart's CronJob sets: no API keys (the job serves no request)
    env = {
        "SPAM_GATEWAY_FEEDBACK_FEAST_REPO": str(repo),
        "SPAM_GATEWAY_FEEDBACK_LOG_URL": str(log_dir),
        "SPAM_GATEWAY_LOG_FORMAT": "console",
    }
    for _ in range(2):  # idempotent
        done = run(env)
        assert done.returncode == 0, done.stderr
        summary = orjson.loads(done.stdout.strip().splitlines()[-1])
        assert summary["feedback_events"] == 6
        assert summary["senders"] == 2
        assert ledger.totals("sender", [known, new]) == expected
    assert ledger.totals("sender_domain", ["new-domain.example"]) == {"new-domain.example": (2, 2)}
    assert ledger.totals("sender_domain", [known_sender.domain])[known_sender.domain] == (
        known_sender.domain_messages + 3,
        known_sender.domain_spam,
    )


def test_materialize_without_a_repository_exits_2(tmp_path: Path) -> None:
    done = run(
        {
            "SPAM_GATEWAY_API_KEYS": API_KEYS_JSON,
            "SPAM_GATEWAY_FEEDBACK_FEAST_REPO": str(tmp_path / "nothing"),
        }
    )
    assert done.returncode == 2
    assert "feature_store.yaml" in done.stderr
