"""What the sender reputation lookup costs: ``OnlineReputation.stats`` for ONE e-mail.

Measured on real corpus records (one call per e-mail, as the transformer's single-e-mail path
makes), p50/p99 in µs:

* **uncached** — ``cache_ttl_s=0``: every call reads the sender and the sender domain from the
  store (what a first-seen sender costs, and every e-mail with the cache off), through the
  reader serving uses (``spam_core.reputation.reader``: straight from Feast's layout, one
  round trip) and, for comparison, through the Feast SDK (``get_online_features``); the same
  e-mails, alternating readers in rounds so both see the same machine;
* **cached** — the transformer's cache (``REPUTATION_CACHE_TTL_S``), already holding both
  entities: what a repeat sender costs.

Online stores: the SQLite one the benchmark's stack serves from, and — when ``redis-server``
is installed — a real Redis on a free port with the same history materialized into it.
Goals (issue 15, item 8): uncached p50 <= 0.1 ms on SQLite and <= 0.15 ms on Redis.
"""

from __future__ import annotations

import shutil
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from spam_core.message.record import EmailRecord

REPUTATION_DEFAULTS = {"cache_ttl_s": 60.0, "cache_size": 100_000, "retry_after_s": 5.0}
"""The transformer's REPUTATION_CACHE_TTL_S / _CACHE_SIZE / _RETRY_AFTER_S defaults, which the
benchmarks run it with (tests/transformer/test_settings.py holds them equal). Written out, not
read from spam_transformer: the KServe peer uses them and must not import tritonclient."""
CACHE_TTL_S = REPUTATION_DEFAULTS["cache_ttl_s"]
SAMPLE = 1500


def _timed(reputation, records: Sequence[EmailRecord]) -> list[float]:
    times = []
    for record in records:
        started = time.perf_counter()
        reputation.stats((record,))
        times.append(time.perf_counter() - started)
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "p50_us": statistics.median(ordered) * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e6,
    }


GOALS_US = {"sqlite": 100.0, "redis": 150.0}
"""Uncached p50 goals of the serving reader (issue 15, item 8)."""
ROUNDS = 3


def lookup_costs(repo: Path, records: Sequence[EmailRecord]) -> dict[str, dict[str, float]]:
    """``{"uncached": {...}, "uncached_sdk": {...}, "cached": {...}}`` for the Feast repository
    ``repo`` (``uncached``: the serving reader)."""
    import numpy as np

    from spam_core.reputation.online import OnlineReputation

    sample = [r for r in records if r.sender_address][:SAMPLE]
    readers = {
        "uncached": OnlineReputation.from_repo(repo, cache_ttl_s=0),
        "uncached_sdk": OnlineReputation.from_repo(repo, cache_ttl_s=0, reader="sdk"),
    }
    times: dict[str, list[float]] = {name: [] for name in readers}
    for reputation in readers.values():
        reputation.warm_up()
        _timed(reputation, sample[:100])  # connections, statement caches
    for _ in range(ROUNDS):
        for name, reputation in readers.items():
            times[name] += _timed(reputation, sample)
    cached = OnlineReputation.from_repo(repo, cache_ttl_s=CACHE_TTL_S)
    cached.stats(sample)  # one batched lookup fills the cache
    warm = _timed(cached, sample)
    for reputation in (*readers.values(), cached):
        if not reputation.status().healthy:
            raise RuntimeError(f"the store at {repo} failed: {reputation.status()}")
    fast, sdk = (r.stats(sample) for r in readers.values())
    if not np.array_equal(fast, sdk):
        raise RuntimeError(f"the serving reader and the Feast SDK disagree on {repo}")
    known = sum(1 for row in fast if row[0] > 0)
    return {
        **{name: _summary(t) for name, t in times.items()},
        "cached": _summary(warm),
        "known_senders": {"n": len(sample), "known": known},
        "reader": {"kind": readers["uncached"].reader.kind},
    }


def all_lookup_costs(
    dataset_dir: Path, sqlite_repo: Path, records: Sequence[EmailRecord], tmp: Path
) -> dict[str, dict]:
    """SQLite (``sqlite_repo``) and, where redis-server is installed, Redis."""
    results = {"sqlite": lookup_costs(sqlite_repo, records)}
    if shutil.which("redis-server") is None:
        return results
    from spam_trainer.reputation import reputation_stage
    from tests.utils.services import RedisServer

    (tmp / "redis").mkdir(parents=True, exist_ok=True)
    redis = RedisServer(tmp / "redis").start()
    try:
        from spam_core.reputation.repo import write_local_repo

        repo = tmp / "feast-redis"
        write_local_repo(repo, redis=redis.connection_string)
        reputation_stage(dataset_dir, tmp / "redis-work", repo)
        results["redis"] = lookup_costs(repo, records)
    finally:
        redis.stop()
    return results


def rows(results: dict[str, dict]) -> list[tuple[str, str, str]]:
    """``(measure, p50, p99)`` rows, one per store and cache state (serving's reader)."""
    out = []
    for store, r in results.items():
        for state in ("uncached", "cached"):
            out.append(
                (
                    f"reputation lookup, one e-mail, {store}, {state}",
                    f"{r[state]['p50_us']:.1f} µs",
                    f"{r[state]['p99_us']:.1f} µs",
                )
            )
    return out


def reader_table(results: dict[str, dict]):
    """A rich table: per store, the Feast SDK against the serving reader, uncached, with the
    goal and the ratio of the p50s."""
    from rich.table import Table

    n = next(iter(results.values()))["uncached"]["n"] // ROUNDS
    table = Table(
        title=f"reputation lookup, one e-mail (sender + domain), uncached — {n} corpus senders "
        f"× {ROUNDS} rounds, readers alternating, one process"
    )
    for column in ("store", "reader", "p50", "p99", "goal (p50)", "SDK / fast (p50)"):
        table.add_column(column, justify="left" if column in ("store", "reader") else "right")
    for store, r in results.items():
        sdk, fast = r["uncached_sdk"], r["uncached"]
        table.add_row(
            store, "Feast SDK", f"{sdk['p50_us']:.1f} µs", f"{sdk['p99_us']:.1f} µs", "", ""
        )
        goal = GOALS_US.get(store)
        met = "met" if goal is not None and fast["p50_us"] <= goal else "NOT met"
        table.add_row(
            store,
            f"fast ({r['reader']['kind']})",
            f"{fast['p50_us']:.1f} µs",
            f"{fast['p99_us']:.1f} µs",
            f"<= {goal / 1e3:.2f} ms: {met}" if goal else "",
            f"{sdk['p50_us'] / fast['p50_us']:.1f}×",
        )
    return table
