"""Serving side: reputation statistics from the Feast online store.

One batched read per request batch (only for the entities the cache does not hold), through
the repository's :mod:`~spam_core.reputation.reader` (one round trip straight from Feast's
online-store layout on SQLite and Redis; the Feast SDK otherwise). Reputation changes slowly,
so a small time-bounded cache (``cache_ttl_s``) spares the store most lookups;
``cache_ttl_s=0`` turns it off.

Failure policy (the feature is a hint, the e-mail must still be scored):
- an entity the store does not know -> zero counts -> the spec's documented defaults;
- the store unreachable or failing -> cached values where there are any, defaults otherwise,
  ``degraded`` status with the error; further lookups are skipped for ``retry_after_s`` so an
  outage does not add a connection timeout to every request, then tried again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from spam_core.features.reputation import N_STATS, reputation_keys
from spam_core.message.record import EmailRecord
from spam_core.reputation.reader import ReputationReader, open_reader
from spam_core.reputation.repo import DOMAIN_KEY, SENDER_KEY, open_store

if TYPE_CHECKING:
    from pathlib import Path

    from feast import FeatureStore

log = structlog.get_logger("spam_core.reputation")

_ZERO = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class StoreStatus:
    healthy: bool
    error: str | None = None
    since: float | None = None
    """time.time() of the first failure of the current outage."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "healthy" if self.healthy else "degraded",
            "error": self.error,
            "since": self.since,
        }


class OnlineReputation:
    """A :class:`~spam_core.features.reputation.ReputationSource` over a Feast online store.

    ``reader``: how the store is read — ``auto`` (the fast reader of the store's type, see
    :mod:`~spam_core.reputation.reader`), ``sdk`` (``get_online_features``), or a reader.
    """

    def __init__(
        self,
        store: FeatureStore,
        *,
        reader: ReputationReader | str = "auto",
        cache_ttl_s: float = 60.0,
        cache_size: int = 100_000,
        retry_after_s: float = 5.0,
        on_lookup: Callable[[str, int], None] | None = None,
    ) -> None:
        self.store = store
        self.reader = open_reader(store, reader) if isinstance(reader, str) else reader
        self.cache_ttl_s = cache_ttl_s
        self.cache_size = cache_size
        self.retry_after_s = retry_after_s
        self._on_lookup = on_lookup or (lambda outcome, n: None)
        self._cache: OrderedDict[tuple[str, str], tuple[float, float, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._failed_at: float | None = None
        self._outage_since: float | None = None
        self._error: str | None = None
        self._executor: ThreadPoolExecutor | None = None

    @classmethod
    def from_repo(cls, repo_path: str | Path, **kwargs: Any) -> OnlineReputation:
        return cls(open_store(repo_path), **kwargs)

    # ------------------------------------------------------------------ health
    def status(self) -> StoreStatus:
        if self._error is None:
            return StoreStatus(True)
        return StoreStatus(False, self._error, self._outage_since)

    def warm_up(self) -> StoreStatus:
        """One lookup of an entity that does not exist: opens the connection, sets status."""
        self._fetch([""], [""], force=True)
        return self.status()

    # ------------------------------------------------------------------ lookups
    def _split(
        self, keys: list[tuple[str, str]], now: float
    ) -> tuple[dict[tuple[str, str], tuple[float, float]], dict[tuple[str, str], None]]:
        """Fresh cache entries for the keys' entities, and the entities to ask the store for."""
        wanted: dict[tuple[str, str], None] = {}
        cached: dict[tuple[str, str], tuple[float, float]] = {}
        for sender, domain in keys:
            for entity in ((SENDER_KEY, sender), (DOMAIN_KEY, domain)):
                if not entity[1] or entity in cached:
                    continue
                hit = self._cache.get(entity)
                if hit is not None and hit[0] > now:
                    cached[entity] = (hit[1], hit[2])
                else:
                    wanted[entity] = None
        return cached, wanted

    @staticmethod
    def _assemble(
        keys: list[tuple[str, str]], values: dict[tuple[str, str], tuple[float, float]]
    ) -> np.ndarray:
        out = np.zeros((len(keys), N_STATS), dtype=np.float64)
        for i, (sender, domain) in enumerate(keys):
            out[i, 0:2] = values.get((SENDER_KEY, sender), _ZERO)
            out[i, 2:4] = values.get((DOMAIN_KEY, domain), _ZERO)
        return out

    def stats(self, records: Sequence[EmailRecord]) -> np.ndarray:
        keys = [reputation_keys(r) for r in records]
        now = time.monotonic()
        cached, wanted = self._split(keys, now)
        if cached:
            self._on_lookup("hit", len(cached))
        if wanted:
            self._on_lookup("miss", len(wanted))
            cached.update(self._fetch_entities(list(wanted), now))
        return self._assemble(keys, cached)

    def cached_stats(self, records: Sequence[EmailRecord]) -> np.ndarray | None:
        """The stats when the cache holds every entity (no I/O), else None."""
        keys = [reputation_keys(r) for r in records]
        cached, wanted = self._split(keys, time.monotonic())
        if wanted:
            return None
        if cached:
            self._on_lookup("hit", len(cached))
        return self._assemble(keys, cached)

    async def astats(self, records: Sequence[EmailRecord]) -> np.ndarray:
        """:meth:`stats` for an event loop: cache hits answered at once, store lookups on one
        dedicated thread, so a slow or unreachable store never blocks the loop."""
        stats = self.cached_stats(records)
        if stats is not None:
            return stats
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reputation")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.stats, records)

    def _fetch_entities(
        self, entities: list[tuple[str, str]], now: float
    ) -> dict[tuple[str, str], tuple[float, float]]:
        senders = [v for k, v in entities if k == SENDER_KEY]
        domains = [v for k, v in entities if k == DOMAIN_KEY]
        fetched = self._fetch(senders, domains)
        if fetched is None:  # store unavailable: stale cache entries beat defaults
            stale = {}
            for entity in entities:
                hit = self._cache.get(entity)
                if hit is not None:
                    stale[entity] = (hit[1], hit[2])
            return stale
        result = {}
        expires = now + self.cache_ttl_s
        with self._lock:
            for key, values, totals in (
                (SENDER_KEY, senders, fetched[0]),
                (DOMAIN_KEY, domains, fetched[1]),
            ):
                for value, (messages, spam) in zip(values, totals, strict=True):
                    entity = (key, value)
                    result[entity] = stats = (float(messages), float(spam))
                    if self.cache_ttl_s > 0:
                        self._cache[entity] = (expires, *stats)
                        self._cache.move_to_end(entity)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return result

    def _fetch(
        self, senders: list[str], domains: list[str], *, force: bool = False
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
        """One online read of these senders' and domains' totals; None while the store is
        down."""
        n = len(senders) + len(domains)
        if (
            not force
            and self._failed_at is not None
            and time.monotonic() - self._failed_at < self.retry_after_s
        ):
            self._on_lookup("skipped", n)
            return None
        try:
            fetched = self.reader.read(senders, domains)
        except Exception as exc:  # redis/sqlite/Feast errors: score with defaults instead
            self._failed_at = time.monotonic()
            if self._error is None:
                self._outage_since = time.time()
                log.warning("reputation store unavailable: using defaults", error=str(exc))
            self._error = f"{type(exc).__name__}: {exc}"[:300]
            self._on_lookup("error", n)
            return None
        if self._error is not None:
            log.info("reputation store available again", outage_since=self._outage_since)
        self._failed_at = self._error = self._outage_since = None
        return fetched
