"""Shadow scoring: the staging model scores a sampled share of production traffic, off the
request path, and both scores go to the shadow log (``spam_core.shadow_log``).

On with ``SHADOW_ENABLED``. The scoring service (``app/scoring.py``) hands every answered
production-track e-mail to :meth:`ShadowScorer.offer` once its answer is built — ``POST
/predict`` (and ``/predict/production``) and ``POST /predict/batch-sync``, whose scored e-mails
are production traffic too (its failed items are not offered). ``offer`` never awaits and
never raises: it samples (:func:`sampled`, a hash of the ``email_id`` against
``SHADOW_SAMPLE_RATE``), queues and returns; the request goes on as if there were no shadow.

The staging calls run as tasks of their own, at most ``SHADOW_MAX_INFLIGHT`` at once on a
connection pool of their own (the production pool is never waited for); e-mails sampled while
they run wait, and the next call takes all of them (up to ``MAX_BATCH_SIZE``), as the
production client merges single predictions. More than ``SHADOW_MAX_PENDING`` waiting, or more
than ``SHADOW_MAX_PENDING_MB`` of their text: the newest are dropped and counted. A call slower
than ``SHADOW_TIMEOUT_S`` is abandoned. Failures (staging down, timeouts, refused input) are
counted by kind and logged at most once a minute per kind; nothing reaches a client. The rows
(with each e-mail's ``email_key``, parsed on a worker thread) go to the shadow log through the
inference log's writer: buffered, spooled to local disk while the store is down, retried.

Counters (``stats``, served at ``/metrics`` as ``spam_gateway_shadow_*``): ``sampled``,
``dropped`` (over the bound), ``scored`` (rows handed to the log), ``failed`` (e-mails whose
call failed), ``errors`` by kind (failed calls), and the gauges ``inflight`` and ``pending``.
The shadow adds load to the transformer and Triton (a staging call for the sampled e-mails):
the sample rate and the bounds are what keep that small.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog

from spam_core import shadow_log
from spam_core.feedback import email_key
from spam_core.message.wire import EmailIn
from spam_core.scoring import record_from_input
from spam_gateway.app.core.config import Settings
from spam_gateway.app.core.errors import (
    GatewayError,
    InvalidInput,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from spam_gateway.app.inference_log import InferenceLogger, LogStore
from spam_gateway.app.metrics import Metrics
from spam_gateway.app.transformer import TransformerClient, UpstreamBatch

log = structlog.get_logger("spam_gateway.shadow")

SOURCE_TRACK = "production"
SHADOW_TRACK = "staging"
ERROR_KINDS = ("timeout", "unavailable", "invalid_input", "error")
WARN_EVERY_S = 60.0
_SCALE = float(2**64)


def approx_bytes(email: dict[str, Any]) -> int:
    """What a waiting e-mail holds in memory, roughly: its text plus a fixed overhead."""
    return 256 + sum(len(v) for k, v in email.items() if k != "email_id" and isinstance(v, str))


def sampled(email_id: str, rate: float) -> bool:
    """Whether the e-mail is in the shadow's sample: a hash of its id below ``rate`` (the same
    id is always in or always out, whichever gateway replica scores it)."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(email_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * _SCALE


class _DebugLog:
    """The shadow client's per-call upstream warnings, at debug level: the shadow counts its
    failures and logs them itself, once a minute per kind."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def warning(self, event: str, **kw: Any) -> None:
        self._logger.debug(event, **kw)


@dataclass(slots=True)
class _Item:
    email: dict[str, Any]
    """The e-mail as the transformer takes it (``EmailIn.upstream``)."""
    answer: dict[str, Any]
    """The production answer of it."""
    threshold: float | None
    route: str
    correlation_id: str
    answered: float
    """``time.time()`` of the production answer."""
    queued: float
    """``time.perf_counter()`` when it was offered."""
    size: int
    """:func:`approx_bytes` of the e-mail."""


def build_shadow_log(settings: Settings) -> InferenceLogger:
    secret = settings.INFERENCE_LOG_CONNECTION_STRING
    store = LogStore(
        settings.SHADOW_LOG_URL,
        connection_string=secret.get_secret_value() if secret else None,
        account_name=settings.AZURE_STORAGE_ACCOUNT_NAME,
        timeout_s=settings.INFERENCE_LOG_TIMEOUT_S,
    )
    return InferenceLogger(
        store,
        settings.SHADOW_LOG_SPOOL_DIR,
        batch_size=settings.INFERENCE_LOG_BATCH_SIZE,
        flush_interval_s=settings.INFERENCE_LOG_FLUSH_INTERVAL_S,
        retry_interval_s=settings.INFERENCE_LOG_RETRY_INTERVAL_S,
        max_pending=settings.INFERENCE_LOG_MAX_PENDING,
        schema=shadow_log,
    )


class ShadowScorer:
    def __init__(self, settings: Settings, shadow_log_writer: InferenceLogger) -> None:
        self.settings = settings
        self.log = shadow_log_writer
        self.rate = settings.SHADOW_SAMPLE_RATE
        self.max_inflight = settings.SHADOW_MAX_INFLIGHT
        self.max_pending = settings.SHADOW_MAX_PENDING
        self.max_pending_bytes = settings.SHADOW_MAX_PENDING_MB * 1024 * 1024
        self.max_batch = settings.MAX_BATCH_SIZE
        self.timeout_s = settings.SHADOW_TIMEOUT_S
        # a client of its own: its own connections, and its upstream metrics in a registry that
        # is not served (the spam_gateway_upstream_* series stay the clients' traffic); the
        # shadow's own counters are below
        self.client = TransformerClient(
            settings.TRANSFORMER_URL,
            metrics=Metrics(),
            connect_timeout_s=settings.UPSTREAM_CONNECT_TIMEOUT_S,
            timeout_s=settings.SHADOW_TIMEOUT_S,
            max_connections=settings.SHADOW_MAX_INFLIGHT,
            max_batch=settings.MAX_BATCH_SIZE,
            retry_after_s=settings.RETRY_AFTER_S,
            logger=_DebugLog(log),
        )
        self.counts = {"sampled": 0, "dropped": 0, "scored": 0, "failed": 0}
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.inflight = 0
        self._queue: deque[_Item] = deque()
        self._pending_bytes = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._warned: dict[str, float] = {}
        self._closed = False

    # ------------------------------------------------------------------ request path

    def offer(
        self,
        scope: dict[str, Any],
        route: str,
        environment: str,
        emails: list[EmailIn],
        answers: list[dict[str, Any]],
    ) -> None:
        """Sample and queue answered e-mails of the production track; never waits, never
        raises (a failure here is counted and logged, the request is not touched)."""
        if environment != SOURCE_TRACK or self._closed:
            return
        try:
            now, queued = time.time(), time.perf_counter()
            threshold = scope.get("spam.threshold")
            for email, answer in zip(emails, answers, strict=True):
                if not sampled(email.email_id, self.rate):
                    continue
                self.counts["sampled"] += 1
                upstream = email.upstream()
                size = approx_bytes(upstream)
                if (
                    len(self._queue) >= self.max_pending
                    or self._pending_bytes + size > self.max_pending_bytes
                ):
                    self.counts["dropped"] += 1
                    continue
                self._queue.append(
                    _Item(
                        upstream,
                        answer,
                        threshold,
                        route,
                        scope["spam.correlation_id"],
                        now,
                        queued,
                        size,
                    )
                )
                self._pending_bytes += size
            self._drain()
        except Exception:  # pragma: no cover - a bug here must not fail a production answer
            self.errors["error"] += 1
            log.exception("shadow.offer_failed")

    # ------------------------------------------------------------------ staging calls

    def _drain(self) -> None:
        while self._queue and self.inflight < self.max_inflight:
            n = min(len(self._queue), self.max_batch)
            items = [self._queue.popleft() for _ in range(n)]
            self._pending_bytes -= sum(item.size for item in items)
            self.inflight += 1
            task = asyncio.get_running_loop().create_task(self._call(items))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, items: list[_Item]) -> None:
        kind = None
        batch: UpstreamBatch | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                batch = await self.client.predict(
                    SHADOW_TRACK, [item.email for item in items], items[0].correlation_id
                )
        except (TimeoutError, UpstreamTimeout):
            kind = "timeout"
        except UpstreamUnavailable:
            kind = "unavailable"
        except InvalidInput:
            kind = "invalid_input"
        except GatewayError:
            kind = "error"
        except Exception:
            kind = "error"
            log.exception("shadow.call_failed")
        finally:
            self.inflight -= 1
            if not self._closed:
                self._drain()
        if batch is None:
            self.errors[kind or "error"] += 1
            self.counts["failed"] += len(items)
            self._warn(kind or "error", len(items))
            return
        done = time.perf_counter()
        rows = await asyncio.get_running_loop().run_in_executor(
            self._executor, self._rows, items, batch, done
        )
        self.log.log_many(rows)
        self.counts["scored"] += len(rows)

    def _rows(self, items: list[_Item], batch: UpstreamBatch, done: float) -> list[dict]:
        """The shadow-log rows of one staging answer (worker thread: parsing for the
        ``email_key`` costs CPU the event loop should not spend)."""
        version = batch.model_version or self.settings.MODEL_VERSION_STAGING
        rows = []
        for item, p in zip(items, batch.predictions, strict=True):
            try:
                key: str | None = email_key(record_from_input(**item.email))
            except Exception:  # the transformer parsed it; a row without a key still counts
                key = None
            answer = item.answer
            rows.append(
                {
                    "timestamp": item.answered,
                    "correlation_id": item.correlation_id,
                    "route": item.route,
                    "email_id": answer["email_id"],
                    "email_key": key,
                    "model_name": answer["model_name"],
                    "production_model_version": answer["model_version"],
                    "production_spam_probability": answer["spam_probability"],
                    "production_prediction": answer["prediction"],
                    "production_threshold": item.threshold,
                    "shadow_model_version": version,
                    "shadow_spam_probability": p["spam_probability"],
                    "shadow_prediction": p["prediction"],
                    "shadow_threshold": batch.threshold,
                    "shadow_latency_ms": round((done - item.queued) * 1000.0, 3),
                }
            )
        return rows

    def _warn(self, kind: str, emails: int) -> None:
        now = time.monotonic()
        if now - self._warned.get(kind, -WARN_EVERY_S) >= WARN_EVERY_S:
            self._warned[kind] = now
            log.warning("shadow.failed", kind=kind, emails=emails, errors=dict(self.errors))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.log.start()

    async def aclose(self, timeout: float) -> None:
        """Stop sampling, give running calls up to ``timeout``, then cancel them; what still
        waits is counted as dropped. The shadow log is closed by the caller (it blocks)."""
        self._closed = True
        self.counts["dropped"] += len(self._queue)
        self._queue.clear()
        self._pending_bytes = 0
        if self._tasks:
            _, running = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running, timeout=1.0)
        await self.client.aclose()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def stats(self) -> dict[str, Any]:
        return {
            **self.counts,
            "errors": dict(self.errors),
            "inflight": self.inflight,
            "pending": len(self._queue),
            "sample_rate": self.rate,
            "log": self.log.stats(),
        }
