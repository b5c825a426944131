"""What the sender reputation lookup costs: ``OnlineReputation.stats`` for ONE e-mail.

Measured on real corpus records (one call per e-mail, as the transformer's single-e-mail path
makes), p50/p99 in µs:

* **uncached** — ``cache_ttl_s=0``: every call is one ``get_online_features`` of the sender and
  the sender domain (what a first-seen sender costs, and every e-mail with the cache off);
* **cached** — the transformer's cache (``REPUTATION_CACHE_TTL_S``), already holding both
  entities: what a repeat sender costs.

Online stores: the SQLite one the benchmark's stack serves from, and — when ``redis-server``
is installed — a real Redis on a free port with the same history materialized into it.
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


def lookup_costs(repo: Path, records: Sequence[EmailRecord]) -> dict[str, dict[str, float]]:
    """``{"uncached": {...}, "cached": {...}}`` for the Feast repository ``repo``."""
    from spam_core.reputation.online import OnlineReputation

    sample = [r for r in records if r.sender_address][:SAMPLE]
    uncached = OnlineReputation.from_repo(repo, cache_ttl_s=0)
    uncached.warm_up()
    _timed(uncached, sample[:100])  # connections, statement caches
    cold = _timed(uncached, sample)
    cached = OnlineReputation.from_repo(repo, cache_ttl_s=CACHE_TTL_S)
    cached.stats(sample)  # one batched lookup fills the cache
    warm = _timed(cached, sample)
    if not uncached.status().healthy or not cached.status().healthy:
        raise RuntimeError(f"the store at {repo} failed: {uncached.status()} {cached.status()}")
    known = sum(1 for row in cached.stats(sample) if row[0] > 0)
    return {
        "uncached": _summary(cold),
        "cached": _summary(warm),
        "known_senders": {"n": len(sample), "known": known},
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
    """``(measure, p50, p99)`` rows, one per store and cache state."""
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
