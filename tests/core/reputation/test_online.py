"""Serving-side reputation from the Feast online store: SQLite (the session's training repo)
and a real redis-server, taken away and brought back.

``CountingReader`` wraps the store's real reader only to count the online reads; every value
comes from the store.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from spam_core.features import N_CONTENT, reputation_features
from spam_core.features.reputation import N_STATS, reputation_keys
from spam_core.message import parse_fields
from spam_core.reputation.offline import apply_history, materialize
from spam_core.reputation.online import OnlineReputation
from spam_core.reputation.reader import open_reader
from spam_core.reputation.repo import (
    DOMAIN_KEY,
    DOMAIN_VIEW,
    FEATURE_STORE_YAML,
    SENDER_KEY,
    SENDER_VIEW,
    open_store,
    write_local_repo,
)


class CountingReader:
    """The store's real reader; records (senders, domains) of each online read."""

    def __init__(self, store) -> None:
        self.reader = open_reader(store)
        self.kind = self.reader.kind
        self.calls: list[tuple[int, int]] = []

    def read(self, senders, domains):
        self.calls.append((len(senders), len(domains)))
        return self.reader.read(senders, domains)


class Events:
    """``on_lookup`` recorder: outcome -> total entities."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []

    def __call__(self, outcome: str, n: int) -> None:
        self.log.append((outcome, n))

    def totals(self) -> Counter:
        out: Counter = Counter()
        for outcome, n in self.log:
            out[outcome] += n
        return out


def _train_totals(labeled_emails) -> dict[tuple[str, str], tuple[int, int]]:
    """(entity key, value) -> (e-mails, spam) over the whole train split, in plain Python."""
    totals: dict[tuple[str, str], list[int]] = {}
    for e in labeled_emails:
        if e.split != "train":
            continue
        for key, value in ((SENDER_KEY, e.sender), (DOMAIN_KEY, e.domain)):
            if value:
                t = totals.setdefault((key, value), [0, 0])
                t[0] += 1
                t[1] += int(e.spam)
    return {k: (n, s) for k, (n, s) in totals.items()}


def _expected(records, totals) -> np.ndarray:
    out = np.zeros((len(records), N_STATS))
    for i, r in enumerate(records):
        sender, domain = reputation_keys(r)
        out[i, 0:2] = totals.get((SENDER_KEY, sender), (0, 0))
        out[i, 2:4] = totals.get((DOMAIN_KEY, domain), (0, 0))
    return out


@pytest.fixture(scope="module")
def sqlite_store(feast_repo: Path):
    return open_store(feast_repo)


@pytest.fixture(scope="module")
def totals(labeled_emails):
    return _train_totals(labeled_emails)


@pytest.fixture(scope="module")
def sample(corpus_records):
    """300 corpus e-mails of every split (known, unknown and empty senders) + two made up."""
    records, _ = corpus_records
    picked = records[::16][:298]
    assert any(not r.sender_address for r in records)
    picked += [
        parse_fields(email_id="unknown", sender="Nobody <nobody@never-seen.invalid>"),
        parse_fields(email_id="no-sender", sender=None),
    ]
    return picked


# --------------------------------------------------------------------------- SQLite
def test_sqlite_online_store_holds_the_latest_train_totals(
    sqlite_store, labeled_emails, totals, train_history, corpus_records
):
    records, _ = corpus_records
    by_sender = Counter(e.sender for e in labeled_emails if e.split == "train" and e.sender)
    top = {s for s, _ in by_sender.most_common(5)}
    chosen = list({r.sender_address: r for r in records if r.sender_address in top}.values())
    assert len(chosen) == 5
    got = OnlineReputation(sqlite_store).stats(chosen)
    want = _expected(chosen, totals)
    assert np.array_equal(got, want)
    assert (want[:, 0] >= 10).all()  # busy senders: real totals, not defaults
    # ... which are the last rows of the history tables the stage applied
    for view, key, cols in ((SENDER_VIEW, SENDER_KEY, [0, 1]), (DOMAIN_VIEW, DOMAIN_KEY, [2, 3])):
        last = train_history[view].groupby(key).last()
        for r, row in zip(chosen, got, strict=True):
            value = r.sender_address if key == SENDER_KEY else r.sender_domain
            assert [last.at[value, "messages"], last.at[value, "spam"]] == row[cols].tolist()


def test_unknown_and_empty_senders_get_zero_counts(sqlite_store):
    reader, events = CountingReader(sqlite_store), Events()
    rep = OnlineReputation(sqlite_store, reader=reader, on_lookup=events)
    assert reader.kind == "sqlite"
    unknown = parse_fields(email_id="u", sender="nobody@never-seen.invalid")
    empty = parse_fields(email_id="e", sender=None)
    assert rep.stats([unknown, empty]).tolist() == [[0.0] * N_STATS] * 2
    assert reputation_features(rep.stats([unknown])).tolist() == [[0.0, 0.5, 0.0, 0.5]]
    # one read (unknown sender + its domain); "unknown" is cached like a value
    assert reader.calls == [(1, 1)]
    assert events.totals() == {"miss": 2, "hit": 2}
    # an empty key is never looked up: no read, no cache event
    events.log.clear()
    assert rep.stats([empty, empty]).tolist() == [[0.0] * N_STATS] * 2
    assert reader.calls == [(1, 1)] and events.log == []
    assert rep.status().healthy and rep.status().as_dict()["status"] == "healthy"


def test_one_batched_read_and_cache_hits(sqlite_store, sample, totals):
    reader, events = CountingReader(sqlite_store), Events()
    rep = OnlineReputation(sqlite_store, reader=reader, on_lookup=events)
    keys = [reputation_keys(r) for r in sample]
    senders = {s for s, _ in keys if s}
    domains = {d for _, d in keys if d}
    got = rep.stats(sample)
    assert np.array_equal(got, _expected(sample, totals))
    assert (got[:, 0] > 0).sum() > 50 and (got[:, 0] == 0).sum() > 20
    assert reader.calls == [(len(senders), len(domains))]  # one read for the whole batch
    assert events.totals() == {"miss": len(senders) + len(domains)}
    # the same e-mails again: all from the cache, no read
    events.log.clear()
    assert np.array_equal(rep.stats(sample), got)
    assert len(reader.calls) == 1
    assert events.totals() == {"hit": len(senders) + len(domains)}
    # half known, half new: one more read, for the new entities only
    events.log.clear()
    new = [parse_fields(email_id=f"n{i}", sender=f"x{i}@new{i}.example") for i in range(3)]
    rep.stats(sample[:10] + new)
    assert reader.calls[1:] == [(3, 3)]
    assert events.totals()["miss"] == 6
    # without a cache, every call reads
    plain = OnlineReputation(sqlite_store, reader=reader, cache_ttl_s=0, on_lookup=events)
    plain.stats(sample)
    plain.stats(sample)
    assert len(reader.calls) == 4


def test_astats_answers_cache_hits_on_the_loop_and_reads_the_store_on_its_thread(
    sqlite_store, sample, totals
):
    import asyncio
    import threading

    class ThreadRecordingReader(CountingReader):
        threads: list[str]

        def read(self, senders, domains):
            self.threads.append(threading.current_thread().name)
            return super().read(senders, domains)

    reader = ThreadRecordingReader(sqlite_store)
    reader.threads = []
    rep = OnlineReputation(sqlite_store, reader=reader)
    assert rep.cached_stats(sample) is None  # nothing cached yet: no answer, no read
    assert reader.calls == []
    first = asyncio.run(rep.astats(sample))
    assert np.array_equal(first, _expected(sample, totals))
    assert len(reader.threads) == 1 and reader.threads[0].startswith("reputation")
    again = asyncio.run(rep.astats(sample))  # every entity cached: answered without a read
    assert np.array_equal(again, first) and len(reader.calls) == 1
    assert np.array_equal(rep.cached_stats(sample), first)


def test_batch_and_single_are_bit_identical_with_the_online_source(
    sqlite_store, extractor, sample, totals
):
    rep = OnlineReputation(sqlite_store)
    batch = extractor.transform_records(sample, rep)
    single = np.stack([extractor.transform_record(r, rep) for r in sample])
    assert np.array_equal(batch, single)
    want = reputation_features(_expected(sample, totals)).astype(np.float32)
    assert np.array_equal(batch[:, N_CONTENT:], want)


def test_a_broken_repository_is_refused_clearly(tmp_path):
    from spam_core.errors import ArtifactError

    with pytest.raises(ArtifactError, match="not a Feast feature repository"):
        open_store(tmp_path)
    (tmp_path / FEATURE_STORE_YAML).write_text("project: [unclosed\n")
    with pytest.raises(ArtifactError, match=FEATURE_STORE_YAML):
        open_store(tmp_path)


# --------------------------------------------------------------------------- Redis
def test_redis_online_store_equals_sqlite_then_survives_an_outage(
    redis_server, tmp_path, train_history, sqlite_store, sample
):
    repo = tmp_path / "feast-redis"
    config = write_local_repo(repo, redis=redis_server.connection_string)
    assert "type: redis" in config.read_text()
    store = open_store(repo)
    apply_history(store, train_history, tmp_path / "history")
    materialize(store, train_history)

    from_sqlite = OnlineReputation(sqlite_store).stats(sample)
    counting, events = CountingReader(store), Events()
    assert counting.kind == "redis"
    rep = OnlineReputation(
        store, reader=counting, cache_ttl_s=0, retry_after_s=0.2, on_lookup=events
    )
    assert rep.warm_up().healthy
    from_redis = rep.stats(sample)
    assert np.array_equal(from_redis, from_sqlite)
    assert (from_redis[:, 0] > 0).sum() > 50
    # a cache whose entries expire quickly: what it held is served during the outage
    cached = OnlineReputation(store, cache_ttl_s=0.3, retry_after_s=0.2)
    assert np.array_equal(cached.stats(sample), from_sqlite)

    redis_server.stop()
    time.sleep(0.35)  # the cached entries are stale now
    started = time.perf_counter()
    down = rep.stats(sample)  # the read fails: defaults, no exception
    failed_s = time.perf_counter() - started
    assert np.array_equal(down, np.zeros_like(from_sqlite))
    status = rep.status()
    assert not status.healthy and status.since is not None
    assert "ConnectionError" in status.error or "refused" in status.error.lower(), status.error
    assert status.as_dict()["status"] == "degraded"
    assert events.log[-1][0] == "error" and failed_s < 2.0
    assert np.array_equal(cached.stats(sample), from_sqlite)  # stale values beat defaults
    assert not cached.status().healthy
    # within retry_after_s the store is not tried at all: fast, still defaults
    reads = len(counting.calls)
    started = time.perf_counter()
    assert np.array_equal(rep.stats(sample), down)
    assert time.perf_counter() - started < 0.05
    assert len(counting.calls) == reads and events.log[-1][0] == "skipped"
    assert not rep.warm_up().healthy  # an explicit probe does try, and fails

    redis_server.start()  # same port; no persistence: an empty store
    time.sleep(0.25)  # > retry_after_s
    empty = rep.stats(sample)
    assert rep.status().healthy and rep.status().error is None
    assert np.array_equal(empty, np.zeros_like(from_sqlite))  # known to nobody, yet healthy
    assert events.log[-1][0] == "miss" and len(counting.calls) == reads + 2
    materialize(store, train_history)
    assert np.array_equal(rep.stats(sample), from_sqlite)
    time.sleep(0.25)
    assert np.array_equal(cached.stats(sample), from_sqlite) and cached.status().healthy
