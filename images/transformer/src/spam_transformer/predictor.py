"""The remote predictor: one pooled asyncio Triton client (KServe v2 protocol), gRPC or HTTP.

One :class:`TritonPredictor` per track (each KServe InferenceService runs its own Triton). The
client is created inside the running event loop (:meth:`TritonPredictor.start`) and reused by
every request: gRPC multiplexes all calls over one HTTP/2 channel; HTTP keeps a pool of
keep-alive connections (aiohttp). Every call has a deadline; failures become the domain errors
of :mod:`spam_transformer.errors` — :class:`PredictorUnavailable` / :class:`PredictorTimeout`
(retryable: 503) or :class:`PredictorError` (a contract problem: 502).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from spam_core.bundle import ONNX_INPUT, ONNX_PROBABILITIES
from spam_transformer.config import Protocol
from spam_transformer.errors import PredictorError, PredictorTimeout, PredictorUnavailable

# gRPC status codes (tritonclient reports them as "StatusCode.X") worth a retry
_RETRYABLE_GRPC = {"UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "RESOURCE_EXHAUSTED", "ABORTED"}
_RETRYABLE_HTTP = {"408", "429", "499", "502", "503", "504"}
# Triton's words for "this model is not (or no longer) loaded": the ISVC is rolling
_MODEL_GONE = ("unknown model", "is not found", "not ready", "is not available")
GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ModelStatus:
    ready: bool
    detail: str


def _classify(exc: Exception, timeout_s: float) -> Exception:
    """Any client-side failure -> the matching domain error."""
    from tritonclient.utils import InferenceServerException

    if isinstance(exc, TimeoutError):
        return PredictorTimeout(f"Triton did not answer within {timeout_s:g} s")
    if isinstance(exc, InferenceServerException):
        status = str(exc.status() or "").removeprefix("StatusCode.")
        message = str(exc.message() or exc)
        if status == "DEADLINE_EXCEEDED":
            return PredictorTimeout(f"Triton did not answer within {timeout_s:g} s")
        if status in _RETRYABLE_GRPC or status in _RETRYABLE_HTTP:
            return PredictorUnavailable(f"Triton unavailable: {message}", {"status": status})
        if any(s in message.lower() for s in _MODEL_GONE):
            return PredictorUnavailable(f"model not available: {message}", {"status": status})
        return PredictorError(f"Triton refused the request: {message}", {"status": status})
    # aiohttp.ClientError, ConnectionError, OSError, ...: the server is not reachable
    return PredictorUnavailable(f"Triton unreachable: {type(exc).__name__}: {exc}")


class TritonPredictor:
    """An asyncio Triton client with deadlines and error mapping."""

    def __init__(
        self,
        url: str,
        protocol: Protocol,
        *,
        timeout_s: float = 5.0,
        ready_timeout_s: float = 1.0,
        max_reconnect_backoff_ms: int = 1000,
        pool_size: int = 100,
    ) -> None:
        if protocol not in ("grpc", "http"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.url = url
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.ready_timeout_s = ready_timeout_s
        self.max_reconnect_backoff_ms = max_reconnect_backoff_ms
        self.pool_size = pool_size
        self._client: Any = None
        self._module: Any = None
        self._outputs: list[Any] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Create the client (needs the running event loop). Connections open lazily."""
        if self._client is not None:
            return
        if self.protocol == "grpc":
            import tritonclient.grpc as module
            import tritonclient.grpc.aio as aio

            backoff = self.max_reconnect_backoff_ms
            self._client = aio.InferenceServerClient(
                self.url,
                channel_args=[
                    ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
                    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
                    ("grpc.keepalive_time_ms", 30_000),
                    ("grpc.keepalive_timeout_ms", 10_000),
                    ("grpc.keepalive_permit_without_calls", 1),
                    ("grpc.http2.max_pings_without_data", 0),
                    # reconnect quickly after a Triton restart (defaults: 1 s .. 120 s)
                    ("grpc.initial_reconnect_backoff_ms", min(100, backoff)),
                    ("grpc.min_reconnect_backoff_ms", min(100, backoff)),
                    ("grpc.max_reconnect_backoff_ms", backoff),
                ],
            )
            self._outputs = [module.InferRequestedOutput(ONNX_PROBABILITIES)]
        else:
            import tritonclient.http as module
            import tritonclient.http.aio as aio

            self._client = aio.InferenceServerClient(
                self.url, conn_limit=self.pool_size, conn_timeout=self.timeout_s
            )
            self._outputs = [module.InferRequestedOutput(ONNX_PROBABILITIES, binary_data=True)]
        self._module = module

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    @property
    def started(self) -> bool:
        return self._client is not None

    # ------------------------------------------------------------------ calls

    def _inputs(self, matrix: np.ndarray) -> list[Any]:
        features = self._module.InferInput(ONNX_INPUT, list(matrix.shape), "FP32")
        if self.protocol == "grpc":
            features.set_data_from_numpy(matrix)
        else:
            features.set_data_from_numpy(matrix, binary_data=True)
        return [features]

    async def infer(
        self, model: str, matrix: np.ndarray, headers: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """Spam probabilities (column 1 of ``probabilities``) for a float32 (n, k) matrix."""
        if self._client is None:
            raise PredictorUnavailable("the Triton client is not started")
        kwargs: dict[str, Any] = {"outputs": self._outputs, "headers": dict(headers or {}) or None}
        if self.protocol == "grpc":
            kwargs["client_timeout"] = self.timeout_s
        try:
            # the outer deadline also bounds HTTP (aiohttp has no per-call deadline here)
            async with asyncio.timeout(self.timeout_s + 0.25):
                result = await self._client.infer(model, self._inputs(matrix), **kwargs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise _classify(exc, self.timeout_s) from exc
        probabilities = result.as_numpy(ONNX_PROBABILITIES)
        n = matrix.shape[0]
        if probabilities is None or probabilities.shape != (n, 2):
            shape = None if probabilities is None else list(probabilities.shape)
            raise PredictorError(
                f"Triton model {model!r} answered {ONNX_PROBABILITIES!r} with shape {shape}, "
                f"expected [{n}, 2]"
            )
        return probabilities[:, 1]

    async def model_status(self, model: str, n_features: int) -> ModelStatus:
        """Is ``model`` ready on Triton, and does it take ``n_features`` float32 features?"""
        if self._client is None:
            return ModelStatus(False, "Triton client not started")
        try:
            async with asyncio.timeout(self.ready_timeout_s):
                if self.protocol == "grpc":
                    ready = await self._client.is_model_ready(
                        model, client_timeout=self.ready_timeout_s
                    )
                    meta = (
                        await self._client.get_model_metadata(
                            model, as_json=True, client_timeout=self.ready_timeout_s
                        )
                        if ready
                        else None
                    )
                else:
                    ready = await self._client.is_model_ready(model)
                    meta = await self._client.get_model_metadata(model) if ready else None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return ModelStatus(False, _classify(exc, self.ready_timeout_s).message)
        if not ready:
            return ModelStatus(False, f"model {model!r} is not ready on Triton at {self.url}")
        return _check_signature(model, meta or {}, n_features)


def _check_signature(model: str, meta: Mapping[str, Any], n_features: int) -> ModelStatus:
    """The served model must take ``features`` [-1, n_features] FP32 and give probabilities."""
    inputs = {i.get("name"): i for i in meta.get("inputs", [])}
    outputs = {o.get("name") for o in meta.get("outputs", [])}
    features = inputs.get(ONNX_INPUT)
    if features is None:
        return ModelStatus(False, f"Triton model {model!r} has no input {ONNX_INPUT!r}")
    shape = [int(d) for d in features.get("shape", [])]
    if features.get("datatype") != "FP32" or not shape or shape[-1] != n_features:
        return ModelStatus(
            False,
            f"Triton model {model!r} takes {features.get('datatype')} {shape}, the transformer "
            f"sends FP32 [-1, {n_features}] (spam_core.features.spec): model and features "
            "belong to different feature sets",
        )
    if ONNX_PROBABILITIES not in outputs:
        return ModelStatus(False, f"Triton model {model!r} has no output {ONNX_PROBABILITIES!r}")
    return ModelStatus(True, "ready")
