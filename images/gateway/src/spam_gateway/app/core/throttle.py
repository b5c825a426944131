"""Abuse limits: failed authentication throttled per client, request quotas per key.

Moving windows of the ``limits`` library in this process's memory (one gateway process: the
chart runs one uvicorn worker per pod, so with N replicas a client gets at most N times the
budget; a shared store would need Redis, not worth it for a brute-force brake).

* **Failed authentication** (``AUTH_FAILURES_PER_CLIENT``, default ``20/minute``): every 401
  counts against the client address; once the budget is spent, every request of that client to
  a route that needs a key gets 429 with ``Retry-After`` — *before* its key is looked at, so
  guessing goes no faster with a right key among the guesses. Behind a proxy every client has
  the proxy's address: the Ingress (or Istio) must keep the client's address for this to be
  per client (uvicorn's ``--forwarded-allow-ips``), or set the value to ``off`` to turn it off
  (``""`` in code; an empty environment variable counts as unset).
* **Quotas per key** (``QUOTA_VIEWER``, ``QUOTA_REPORTER``, ``QUOTA_OPERATOR``, e.g.
  ``600/minute``; empty = no quota, the default): each key's authenticated requests in the
  window; over it, 429.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from spam_gateway.app.core.errors import TooManyRequests
from spam_gateway.app.core.security import ApiKey, Role

_MAX_SUSPECTS = 10_000
"""Clients with a failed authentication kept before the stale ones are dropped (then twice as
many as remain, at least this many)."""


def rate(value: str | None) -> RateLimitItem | None:
    """``"20/minute"`` → a limit; empty → ``None`` (off). ``ValueError`` when unreadable."""
    if not value:
        return None
    return parse(value)


class Throttle:
    def __init__(self, auth_failures: str | None, quotas: dict[Role, str | None]) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.auth_failures = rate(auth_failures)
        self.quotas = {role: rate(value) for role, value in quotas.items()}
        self._failed_at: dict[str, float] = {}
        """Client → its last failed authentication (monotonic), kept for one window: a client
        without one in the window has nothing to look up (the limiter's window check costs
        several µs, every keyed request makes it)."""
        self._prune_at = _MAX_SUSPECTS

    def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset, _ = self._limiter.get_window_stats(item, *identifiers)
        return max(1, math.ceil(reset - time.time()))

    def check_client(self, client: str) -> None:
        """429 when ``client`` has spent its failed-authentication budget."""
        item = self.auth_failures
        last = self._failed_at.get(client)
        if item is None or last is None:
            return
        if time.monotonic() - last > item.get_expiry():
            del self._failed_at[client]
            return
        if not self._limiter.test(item, "auth", client):
            raise TooManyRequests(
                "too many failed authentications from this client",
                details={"limit": str(item)},
                retry_after=self._retry_after(item, "auth", client),
            )

    def failed(self, client: str) -> None:
        if self.auth_failures is not None:
            self._limiter.hit(self.auth_failures, "auth", client)
            now = time.monotonic()
            if len(self._failed_at) >= self._prune_at:  # many guessing clients: drop the stale
                window = self.auth_failures.get_expiry()
                self._failed_at = {c: t for c, t in self._failed_at.items() if now - t <= window}
                self._prune_at = max(_MAX_SUSPECTS, 2 * len(self._failed_at))
            self._failed_at[client] = now

    def check_quota(self, key: ApiKey) -> None:
        """Counts one request of ``key``; 429 when its role's quota is spent."""
        item = self.quotas.get(key.role)
        if item is not None and not self._limiter.hit(item, "quota", key.name):
            raise TooManyRequests(
                f"the request quota of key {key.name!r} is spent",
                details={"limit": str(item), "role": key.role.name},
                retry_after=self._retry_after(item, "quota", key.name),
                code="quota_exceeded",
            )
