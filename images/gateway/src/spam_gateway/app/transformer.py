"""Client of the feature transformer (``POST /v1/predict``, ``GET /ready``, ``GET /health``).

One pooled ``aiohttp.ClientSession`` per application (aiohttp rather than httpx: several times
less CPU per call, which on 2 cores is the gateway's throughput; the numbers are in the
README's "Measured design choices"). Transport failures and transformer errors become domain errors
here (``app/api/errors.py`` turns them into HTTP):

* connection refused / reset, pool exhausted, transformer (or Triton behind it) answering 503
  → ``UpstreamUnavailable`` (503 with ``Retry-After``);
* read timeout → ``UpstreamTimeout`` (504);
* 422 from the transformer → ``InvalidInput`` (422, its details passed on);
* anything else → ``UpstreamError`` (502).

Single predictions are merged where requests meet: per track at most ``max_inflight`` calls
run at once; a request that arrives while they are busy waits for the next call, which takes
every e-mail queued by then (up to ``max_batch``). With one client nothing ever waits; under
load the transformer and Triton see batches instead of one e-mail per call. If a merged call
is refused as invalid input, its e-mails are retried one by one so that one bad e-mail fails
only its own request.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import structlog
from yarl import URL

from spam_core.scoring import PREDICTION_FIELDS
from spam_gateway.app.core.errors import (
    GatewayError,
    InvalidInput,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from spam_gateway.app.metrics import Metrics

log = structlog.get_logger("spam_gateway.transformer")

PREDICT_PATH = "/v1/predict"
JSON_HEADERS = {"content-type": "application/json"}
# below uvicorn's default keep-alive (5 s): the client drops idle connections before the
# server does, so a request rarely lands on a connection the server is closing (and a
# prediction, being side-effect free, is retried once when it does)
KEEPALIVE_EXPIRY_S = 4.0
_RETRYABLE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


@dataclass(frozen=True, slots=True)
class UpstreamBatch:
    """One transformer answer: shared model info and the predictions, in request order."""

    environment: str
    model_name: str
    model_version: str
    threshold: float | None
    predictions: list[dict[str, Any]]
    upstream_ms: float


_Item = tuple[dict[str, Any], str, "asyncio.Future[tuple[UpstreamBatch, int]]"]
"""A queued single prediction: the e-mail, its request's correlation id, its future."""


@dataclass(slots=True)
class _Lane:
    inflight: int = 0
    queue: deque[_Item] = field(default_factory=deque)


class TransformerClient:
    def __init__(
        self,
        base_url: str,
        *,
        metrics: Metrics,
        connect_timeout_s: float = 1.0,
        timeout_s: float = 10.0,
        max_connections: int = 64,
        max_inflight: int = 2,
        max_batch: int = 100,
        retry_after_s: int = 5,
        health_timeout_s: float = 1.0,
        logger: Any = None,
    ) -> None:
        self.log = logger if logger is not None else log
        """Where upstream failures are logged (warnings; the shadow's client logs at debug)."""
        self.base_url = base_url.rstrip("/")
        self.metrics = metrics
        self.max_inflight = max_inflight
        self.max_batch = max_batch
        self.retry_after_s = retry_after_s
        self.health_timeout = aiohttp.ClientTimeout(total=health_timeout_s)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=timeout_s, sock_connect=connect_timeout_s, sock_read=timeout_s
        )
        self._urls = {p: URL(self.base_url + p) for p in (PREDICT_PATH, "/ready", "/health")}
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, _Lane] = {}
        self._probes: dict[str, tuple[float, tuple[bool, dict[str, Any]]]] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session, opened on first use (it needs the running event loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=KEEPALIVE_EXPIRY_S,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={"user-agent": "spam-gateway"},
                skip_auto_headers=("accept-encoding",),
                auto_decompress=False,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ predictions

    async def predict(
        self,
        environment: str,
        emails: list[dict[str, Any]],
        correlation_id: str,
        *,
        explain: bool = False,
    ) -> UpstreamBatch:
        """One transformer call for ``emails`` (1..100), as given (``explain``: with each
        prediction's ``explanation``)."""
        doc: dict[str, Any] = {"environment": environment, "emails": emails}
        if explain:
            doc["explain"] = True
        payload = orjson.dumps(doc)
        headers = {**JSON_HEADERS, "x-correlation-id": correlation_id}
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                async with self.session.post(
                    self._urls[PREDICT_PATH], data=payload, headers=headers
                ) as r:
                    status, content = r.status, await r.read()
                    retry_after = r.headers.get("retry-after")
                break
            except _RETRYABLE as exc:
                if attempt == 2:
                    raise self._unavailable(environment, "connect", exc) from None
            except aiohttp.ConnectionTimeoutError as exc:  # pool wait or connect
                raise self._unavailable(environment, "connect", exc) from None
            except (aiohttp.SocketTimeoutError, TimeoutError) as exc:
                self._count_error(environment, "timeout")
                raise UpstreamTimeout(
                    f"the transformer did not answer in time ({type(exc).__name__})"
                ) from None
            except aiohttp.ClientError as exc:  # refused, reset, protocol errors
                raise self._unavailable(environment, "connect", exc) from None
        elapsed = time.perf_counter() - started
        self.metrics.upstream_latency.labels(environment).observe(elapsed)
        self.metrics.upstream_batch.labels(environment).observe(len(emails))
        if status != 200:
            raise self._status_error(environment, status, content, retry_after)
        try:
            body = orjson.loads(content)
            predictions = body["predictions"]
            if len(predictions) != len(emails):
                raise ValueError(f"{len(predictions)} predictions for {len(emails)} e-mails")
            for sent, got in zip(emails, predictions, strict=True):
                if got.get("email_id") != sent["email_id"]:
                    raise ValueError("predictions are not in request order")
                if not PREDICTION_FIELDS.issubset(got):
                    raise ValueError(f"a prediction lacks {sorted(PREDICTION_FIELDS - set(got))}")
            return UpstreamBatch(
                environment=environment,
                model_name=str(body.get("model_name") or ""),
                model_version=str(body.get("model_version") or ""),
                threshold=body.get("threshold"),
                predictions=predictions,
                upstream_ms=elapsed * 1000.0,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            self._count_error(environment, "bad_response")
            raise UpstreamError(f"unusable transformer response: {exc}") from None

    async def predict_one(
        self, environment: str, email: dict[str, Any], correlation_id: str
    ) -> tuple[UpstreamBatch, int]:
        """Score one e-mail, merged with concurrent ones; returns the batch and its index."""
        lane = self._lanes.get(environment)
        if lane is None:
            lane = self._lanes[environment] = _Lane()
        if lane.inflight < self.max_inflight and not lane.queue:
            lane.inflight += 1  # fast path: nobody waiting, send it alone right now
            try:
                return await self.predict(environment, [email], correlation_id), 0
            finally:
                lane.inflight -= 1
                self._drain(environment, lane)
        future: asyncio.Future[tuple[UpstreamBatch, int]] = (
            asyncio.get_running_loop().create_future()
        )
        lane.queue.append((email, correlation_id, future))
        self._drain(environment, lane)
        return await future

    def _drain(self, environment: str, lane: _Lane) -> None:
        while lane.queue and lane.inflight < self.max_inflight:
            items = []
            while lane.queue and len(items) < self.max_batch:
                item = lane.queue.popleft()
                if not item[2].done():  # the client may have gone away
                    items.append(item)
            if not items:
                return
            lane.inflight += 1
            asyncio.get_running_loop().create_task(self._send_merged(environment, lane, items))

    async def _send_merged(
        self,
        environment: str,
        lane: _Lane,
        items: list[_Item],
    ) -> None:
        try:
            emails = [email for email, _, _ in items]
            try:
                # the upstream sees the first request's correlation id for a merged call
                batch = await self.predict(environment, emails, items[0][1])
            except InvalidInput:
                if len(items) == 1:
                    raise
                await asyncio.gather(*(self._send_alone(environment, item) for item in items))
                return
            for i, (_, _, future) in enumerate(items):
                if not future.done():
                    future.set_result((batch, i))
        except Exception as exc:
            for _, _, future in items:
                if not future.done():
                    future.set_exception(exc)
        finally:
            lane.inflight -= 1
            self._drain(environment, lane)

    async def _send_alone(
        self,
        environment: str,
        item: _Item,
    ) -> None:
        email, correlation_id, future = item
        try:
            result = await self.predict(environment, [email], correlation_id)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result((result, 0))

    # ------------------------------------------------------------------ health

    async def ready(self, max_age_s: float = 0.0) -> tuple[bool, dict[str, Any]]:
        """(ready, detail) from the transformer's GET /ready (per track: readiness and the model
        it serves); unreachable counts as not ready. Reused for ``max_age_s`` (0: asks now)."""
        return await self._cached("/ready", max_age_s)

    async def health(self, max_age_s: float = 0.0) -> tuple[bool, dict[str, Any]]:
        """The transformer's GET /health, reused for ``max_age_s`` (probes come often)."""
        return await self._cached("/health", max_age_s)

    async def _cached(self, path: str, max_age_s: float) -> tuple[bool, dict[str, Any]]:
        now = time.monotonic()
        cached = self._probes.get(path)
        if cached is not None and now - cached[0] < max_age_s:
            return cached[1]
        result = await self._probe(path)
        self._probes[path] = (time.monotonic(), result)
        return result

    async def _probe(self, path: str) -> tuple[bool, dict[str, Any]]:
        started = time.perf_counter()
        try:
            async with self.session.get(self._urls[path], timeout=self.health_timeout) as r:
                status, content = r.status, await r.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, {"url": self.base_url, "error": f"{type(exc).__name__}: {exc}".strip()}
        detail: dict[str, Any] = {
            "url": self.base_url,
            "status_code": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = content[:500].decode(errors="replace")
        detail["response"] = body
        return status == 200, detail

    # ------------------------------------------------------------------ errors

    def _count_error(self, environment: str, kind: str) -> None:
        self.metrics.upstream_errors.labels(environment, kind).inc()

    def _unavailable(self, environment: str, kind: str, exc: Exception) -> GatewayError:
        self._count_error(environment, kind)
        # the cause goes to the log; the caller gets a stable reason, no address or exception text
        self.log.warning("transformer unreachable", kind=kind, error=f"{type(exc).__name__}: {exc}")
        return UpstreamUnavailable(
            "the transformer cannot be reached",
            details={"reason": kind},
            retry_after=self.retry_after_s,
        )

    def _status_error(
        self, environment: str, status: int, content: bytes, retry_after: str | None
    ) -> GatewayError:
        try:
            error = orjson.loads(content).get("error") or {}
        except (orjson.JSONDecodeError, AttributeError):
            error = {}
        upstream = {
            "status_code": status,
            "code": error.get("code"),
            "message": error.get("message"),
            "details": error.get("details"),
        }
        if status == 422:
            self._count_error(environment, "invalid_input")
            return InvalidInput(
                error.get("message") or "the transformer refused the input", details=upstream
            )
        if status in (429, 502, 503, 504):
            self._count_error(environment, "unavailable")
            self.log.warning("transformer unavailable", **upstream)
            return UpstreamUnavailable(
                "the model is not available",
                details={"status_code": status, "code": upstream["code"]},
                retry_after=_retry_after(retry_after, self.retry_after_s),
            )
        self._count_error(environment, f"status_{status}")
        self.log.warning("transformer error", **upstream)
        return UpstreamError(
            f"the transformer answered {status}",
            details={"status_code": status, "code": upstream["code"]},
        )


def _retry_after(value: str | None, default: int) -> int:
    try:
        return max(1, int(float(value))) if value else default
    except ValueError:
        return default
