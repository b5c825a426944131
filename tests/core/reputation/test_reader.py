"""The fast reputation readers against the Feast SDK, on real stores.

Parity: every sender and every domain of the materialized train history (plus unknown, empty
and non-ASCII keys) read through the fast reader and through ``get_online_features`` give the
same totals — on SQLite (a private copy of the session's repository) and on a real
redis-server on a free port — and again after user feedback moved totals with Feast's
``write_to_online_store`` (the gateway's ``FeedbackLedger``). The totals are also checked
against the history tables themselves, so two readers agreeing on nothing cannot pass.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from spam_core.reputation.feedback import FeedbackLedger, Report
from spam_core.reputation.offline import apply_history, materialize
from spam_core.reputation.reader import (
    SQLITE_CHUNK,
    AutoReader,
    SdkReader,
    entity_key_encoder,
    open_reader,
)
from spam_core.reputation.repo import (
    DOMAIN_KEY,
    DOMAIN_VIEW,
    SENDER_KEY,
    SENDER_VIEW,
    definitions,
    open_store,
    write_local_repo,
)
from tests.utils.serving import sqlite_feast_copy

ODD_KEYS = ["", "nobody@never-seen.invalid", "ünïcödé@例え.example", "x" * 300, "a@b'; --"]


def _entities(train_history) -> tuple[list[str], list[str]]:
    senders = sorted(train_history[SENDER_VIEW][SENDER_KEY].unique())
    domains = sorted(train_history[DOMAIN_VIEW][DOMAIN_KEY].unique())
    return senders + ODD_KEYS, domains + ODD_KEYS


def _latest(train_history, view: str, key: str) -> dict[str, tuple[int, int]]:
    last = train_history[view].sort_values("event_timestamp").groupby(key).last()
    return {k: (int(r.messages), int(r.spam)) for k, r in last.iterrows()}


def assert_parity(store, senders: list[str], domains: list[str]):
    """Fast and SDK reads of every entity are equal; the fast totals."""
    fast = AutoReader(store)
    assert fast.kind in ("sqlite", "redis")
    got = fast.read(senders, domains)
    want = SdkReader(store).read(senders, domains)
    assert got == want
    # one at a time (the single-e-mail path) too
    for i in range(0, max(len(senders), len(domains)), 97):
        s, d = senders[i : i + 1], domains[i : i + 1]
        assert fast.read(s, d) == (want[0][i : i + 1], want[1][i : i + 1])
    return got


def _feedback(store, senders: list[str]) -> dict[str, tuple[int, int]]:
    """Spam reports for three known senders and two new ones (5 reporters); the ledger's totals
    afterwards."""
    ledger = FeedbackLedger(store, max_per_sender_day=10, max_per_domain_day=50)
    now = time.time()
    chosen = [*senders[:3], "fresh.one@new-domain.example", "fresh.two@new-domain.example"]
    reports = [
        Report(f"reporter-{r}", f"mail-{s}", s, s.rsplit("@", 1)[1], label, now)
        for s in chosen
        for r, label in enumerate(["spam", "spam", "ham", "spam", "spam"])
    ]
    outcomes = ledger.apply(reports)
    assert {o.status for o in outcomes} == {"applied"}
    return ledger.totals(SENDER_KEY, chosen)


# --------------------------------------------------------------------------- key encoding
@pytest.mark.parametrize("version", [2, 3])
def test_the_entity_key_encoder_is_feasts_serializer(train_history, version: int) -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    senders, domains = _entities(train_history)
    for key, values in ((SENDER_KEY, senders), (DOMAIN_KEY, domains)):
        encode = entity_key_encoder(key, version)
        for value in values:
            want = serialize_entity_key(
                EntityKey(join_keys=[key], entity_values=[Value(string_val=value)]),
                entity_key_serialization_version=version,
            )
            assert encode(value) == want, value


# --------------------------------------------------------------------------- SQLite
def test_sqlite_every_entity_reads_as_the_sdk_reads_it_also_after_feedback(
    feast_repo: Path, tmp_path: Path, train_history
) -> None:
    store = open_store(sqlite_feast_copy(feast_repo, tmp_path / "feast"))
    senders, domains = _entities(train_history)
    assert len(senders) > 2 * SQLITE_CHUNK  # several statements, unequal sides
    got = assert_parity(store, senders, domains)
    latest = _latest(train_history, SENDER_VIEW, SENDER_KEY)
    assert got[0][: len(latest)] == [latest[s] for s in senders[: len(latest)]]
    latest_domains = _latest(train_history, DOMAIN_VIEW, DOMAIN_KEY)
    assert got[1][: len(latest_domains)] == [latest_domains[d] for d in domains[:-5]]
    assert got[0][-5:] == [(0, 0)] * 5 and got[1][-5:] == [(0, 0)] * 5
    # duplicates in one read, in any order
    assert AutoReader(store).read([senders[3], senders[0], senders[3]], []) == (
        [got[0][3], got[0][0], got[0][3]],
        [],
    )

    totals = _feedback(store, senders)
    after = assert_parity(store, list(totals), [])
    assert after[0] == list(totals.values())
    assert after[0][0] == (got[0][0][0] + 5, got[0][0][1] + 4)  # 4 spam, 1 ham report
    assert after[0][-1] == (5, 4)  # a sender known only through feedback


def test_the_layout_is_read_again_until_the_registry_has_the_views(tmp_path: Path) -> None:
    """A transformer started before training applied the repository reads the store once it
    is there (the error surfaces meanwhile: OnlineReputation's degraded state)."""
    write_local_repo(tmp_path / "feast")
    store = open_store(tmp_path / "feast")
    reader = open_reader(store)
    with pytest.raises(Exception, match="sender_reputation"):
        reader.read(["a@b.example"], ["b.example"])
    store.apply(definitions(tmp_path / "history"))
    rows = pd.DataFrame(
        {
            SENDER_KEY: ["a@b.example"],
            "messages": [3],
            "spam": [2],
            "event_timestamp": [pd.Timestamp.now(tz="UTC")],
        }
    )
    store.write_to_online_store(SENDER_VIEW, rows)
    assert reader.read(["a@b.example", "c@b.example"], ["b.example"]) == (
        [(3, 2), (0, 0)],
        [(0, 0)],
    )
    assert reader.kind == "sqlite"


def test_a_layout_the_fast_readers_do_not_know_is_read_through_the_sdk(tmp_path: Path) -> None:
    write_local_repo(tmp_path / "feast")
    store = open_store(tmp_path / "feast")
    objects = definitions(tmp_path / "history")
    for obj in objects:
        if obj.name == SENDER_VIEW:
            obj.ttl = timedelta(days=1)
    store.apply(objects)
    rows = pd.DataFrame(
        {
            SENDER_KEY: ["a@b.example"],
            "messages": [3],
            "spam": [1],
            "event_timestamp": [pd.Timestamp.now(tz="UTC")],
        }
    )
    store.write_to_online_store(SENDER_VIEW, rows)
    reader = open_reader(store)
    assert reader.read(["a@b.example"], ["b.example"]) == ([(3, 1)], [(0, 0)])
    assert reader.kind == "sdk"


def test_an_unknown_reader_kind_is_refused(feast_repo: Path) -> None:
    with pytest.raises(ValueError, match="'auto' or 'sdk'"):
        open_reader(open_store(feast_repo), "turbo")


# --------------------------------------------------------------------------- Redis
def test_redis_every_entity_reads_as_the_sdk_reads_it_also_after_feedback(
    redis_server, tmp_path: Path, train_history
) -> None:
    repo = tmp_path / "feast-redis"
    write_local_repo(repo, redis=redis_server.connection_string)
    store = open_store(repo)
    apply_history(store, train_history, tmp_path / "history")
    materialize(store, train_history)
    senders, domains = _entities(train_history)
    got = assert_parity(store, senders, domains)
    latest = _latest(train_history, SENDER_VIEW, SENDER_KEY)
    assert got[0][: len(latest)] == [latest[s] for s in senders[: len(latest)]]
    assert sum(1 for m, _ in got[1] if m > 0) == len(domains) - 5

    totals = _feedback(store, senders)
    after = assert_parity(store, list(totals), [])
    assert after[0] == list(totals.values())
    assert after[0][0] == (got[0][0][0] + 5, got[0][0][1] + 4)
    assert after[0][-1] == (5, 4)
    # the domains the feedback touched moved too, read the same both ways
    assert_parity(store, [], ["new-domain.example", senders[0].rsplit("@", 1)[1]])
