"""The data plane: track lookup, request decoding, inference, readiness — no HTTP in here.

KServe's ``protocol/dataplane.py`` pattern: the REST handlers (and a gRPC servicer, should one
be added) call this class and nothing else; it raises the domain errors of
:mod:`spam_transformer.errors`, which the REST server maps to status codes in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

import structlog
from pydantic import ValidationError

from spam_core.reputation.online import OnlineReputation
from spam_transformer import TRACKS, __version__
from spam_transformer.errors import InvalidInput, UnknownEnvironment
from spam_transformer.metrics import TransformerMetrics
from spam_transformer.model import SpamTransformer
from spam_transformer.protocol.datamodels import PredictRequest

log = structlog.get_logger("spam_transformer.dataplane")


class RequestValidationFailed(InvalidInput):
    """The body is not JSON or does not match :class:`PredictRequest`."""

    code = "validation_error"


def _validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


class DataPlane:
    def __init__(
        self,
        models: Mapping[str, SpamTransformer],
        reputation: OnlineReputation | None = None,
        *,
        max_batch: int = 100,
        metrics: TransformerMetrics | None = None,
    ) -> None:
        unknown = set(models) - set(TRACKS)
        if unknown:
            raise ValueError(f"unknown tracks {sorted(unknown)}; expected {TRACKS}")
        self.models = dict(models)
        self.reputation = reputation
        self.max_batch = max_batch
        self.metrics = metrics
        self._watch: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    def load(self) -> None:
        """Load every track's artifacts (raises ``ArtifactError`` on the first bad one)."""
        for model in self.models.values():
            model.load()

    async def start(self) -> dict[str, Any]:
        """Start the Triton clients and ask each Triton once (opens the connections, so the
        first request does not pay for them); returns the readiness document. Triton being
        down is not fatal here: /ready says so, and the clients reconnect."""
        for model in self.models.values():
            await model.start()
        if self.reputation is not None:  # opens the store's connection before the 1st request
            await asyncio.to_thread(self.reputation.warm_up)
            self._watch = asyncio.get_running_loop().create_task(self._watch_reputation())
        _, status = await self.ready()
        return status

    async def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await asyncio.gather(*(m.stop() for m in self.models.values()), return_exceptions=True)

    async def _watch_reputation(self) -> None:
        """While the reputation store is down, ask it again every ``retry_after_s`` even when
        no e-mail comes in: its status only changes on a lookup, so without this /health (and
        the gateway's ``feature_store``) would say ``degraded`` until the next request after
        the store is back. One probe at a time, in a thread (never on the event loop)."""
        reputation = self.reputation
        interval = max(float(getattr(reputation, "retry_after_s", 5.0)), 0.1)
        while True:
            await asyncio.sleep(interval)
            if not reputation.status().healthy:
                try:
                    await asyncio.to_thread(reputation.warm_up)
                except Exception as exc:  # warm_up reports store errors in its status
                    log.warning("reputation probe failed", error=f"{type(exc).__name__}: {exc}")
            self.reputation_status()  # keeps the store_up gauge current without a probe

    # ------------------------------------------------------------------ inference

    def model(self, environment: str) -> SpamTransformer:
        try:
            return self.models[environment]
        except KeyError:
            raise UnknownEnvironment(
                f"unknown environment {environment!r}",
                {"allowed": sorted(self.models)},
            ) from None

    def decode(self, body: bytes) -> PredictRequest:
        try:
            request = PredictRequest.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationFailed(
                "the request body does not match the schema", _validation_details(exc)
            ) from None
        n = len(request.emails)
        if not 1 <= n <= self.max_batch:
            raise InvalidInput(
                f"a request holds 1 to {self.max_batch} e-mails, got {n}",
                [{"loc": ["emails"], "msg": f"{n} e-mails", "type": "batch_size"}],
            )
        return request

    async def predict(
        self,
        request: PredictRequest,
        headers: Mapping[str, str] | None = None,
        started: float | None = None,
    ) -> dict[str, Any]:
        """One request batch through the track's model: the response document."""
        started = time.perf_counter() if started is None else started
        model = self.model(request.environment)
        predictions = await model(request.emails, headers, explain=request.explain)
        return {
            "environment": request.environment,
            "model_name": model.model_name,
            "model_version": model.model_version,
            "threshold": model.threshold,
            "predictions": predictions,
            "latency_ms": round((time.perf_counter() - started) * 1e3, 3),
        }

    # ------------------------------------------------------------------ health

    async def ready(self) -> tuple[bool, dict[str, Any]]:
        """Every track: artifacts loaded and its Triton model ready (checked concurrently)."""
        names = list(self.models)
        statuses = await asyncio.gather(*(self.models[n].status() for n in names))
        tracks = {}
        for name, status in zip(names, statuses, strict=True):
            model = self.models[name]
            tracks[name] = {
                "ready": status.ready,
                "detail": status.detail,
                **model.describe(),
                "triton_model": model.track.triton_model,
                "predictor": model.predictor.url,
                "protocol": model.predictor.protocol,
            }
        ready = len(tracks) == len(TRACKS) and all(t["ready"] for t in tracks.values())
        # an unreachable reputation store does not make the transformer unready: e-mails are
        # scored with the default reputation meanwhile, and the document says "degraded"
        return ready, {"ready": ready, "tracks": tracks, "reputation": self.reputation_status()}

    def reputation_status(self) -> dict[str, Any]:
        if self.reputation is None:
            return {"status": "disabled", "error": None, "since": None}
        status = self.reputation.status()
        if self.metrics is not None:
            self.metrics.reputation_store_up.set(1 if status.healthy else 0)
        return status.as_dict()

    def health(self) -> dict[str, Any]:
        return {
            "status": "alive",
            "version": __version__,
            "tracks": {name: model.ready for name, model in self.models.items()},
            "reputation": self.reputation_status(),
        }
