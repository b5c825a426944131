"""The transformer model of one track, on KServe's ``Model`` ladder.

``load`` (artifacts) → ``start`` (Triton client, in the event loop) → per request:
``preprocess`` (e-mails → records → float32 feature matrix: spam_core's extractor, with the
sender reputation from the Feast online store, one lookup per batch) → ``predict`` (ONE
Triton call for the whole request batch) → ``postprocess`` (threshold from ``bundle.json``,
label, confidence, the engineered features by name for the gateway's inference log).
As in KServe, a transformer is a model whose ``predict`` forwards to a remote predictor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import structlog

from spam_core.bundle import BundleMeta
from spam_core.errors import InvalidEmailError
from spam_core.explain import Explainer
from spam_core.features import (
    N_FEATURES,
    N_TFIDF,
    NAMED_FEATURES,
    FeatureExtractor,
)
from spam_core.features.reputation import FixedStats
from spam_core.message import EmailRecord
from spam_core.message.limits import EmailLimitExceeded
from spam_core.reputation.online import OnlineReputation
from spam_core.scoring import prediction, record_from_input
from spam_transformer.artifacts import TrackArtifacts, load_explainer, load_track_artifacts
from spam_transformer.config import TrackSettings
from spam_transformer.errors import (
    InvalidInput,
    ModelNotReady,
    PredictorError,
    PredictorUnavailable,
    TransformerError,
)
from spam_transformer.metrics import TransformerMetrics
from spam_transformer.predictor import ModelStatus, TritonPredictor

log = structlog.get_logger("spam_transformer.model")

OFFLOAD_CHARS = 64 * 1024
"""A request holding an e-mail with more characters than this is parsed and featurized in the
worker pool, off the event loop: one heavy e-mail (bounded by ``spam_core.message.limits``,
at most a few hundred ms) does not stall the others. Ordinary mail (a few KB; the corpus
median is 4 KB) stays on the loop, where a thread hop would cost more than the parse."""

OFFLOAD_REQUEST_CHARS = 512 * 1024
"""A request whose e-mails hold more characters than this in all goes to the worker pool too
(many ordinary e-mails that together would hold the loop for tens of ms). The batches the
gateway merges under load (a few to a few dozen ordinary e-mails) stay under it: in the pool
they would share the GIL with the loop, which then waits up to the switch interval (5 ms) at
each of every other request's steps."""

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="preprocess")
"""The worker pool for heavy requests (threads: the loop keeps its turns at the GIL's switch
interval, and a busy worker does not keep the process from stopping on SIGTERM)."""

FORWARDABLE_HEADERS = ("x-request-id", "x-correlation-id", "traceparent", "tracestate")
"""Request headers passed on to Triton with the inference call (one allow-list, as KServe's
``_FORWARDABLE_HEADERS``): they let a trace or a correlation id follow the request."""


class EmailInput(Protocol):
    """One e-mail as the protocol layer hands it over: ``raw``, or the API fields."""

    email_id: str
    raw: str | None
    subject: str | None
    body: str | None
    sender: str | None
    date: str | None


@dataclass(slots=True)
class Preprocessed:
    records: list[EmailRecord]
    matrix: np.ndarray
    """float32, shape (len(records), N_FEATURES), in the order of ``records``."""


class SpamTransformer:
    """Features for one model track, scored by that track's Triton."""

    def __init__(
        self,
        track: TrackSettings,
        predictor: TritonPredictor,
        reputation: OnlineReputation,
        metrics: TransformerMetrics | None = None,
    ) -> None:
        self.track = track
        self.reputation = reputation
        self.name = track.environment
        self.predictor = predictor
        self.metrics = metrics or TransformerMetrics()
        self.ready = False
        """Artifacts loaded (Triton's readiness is checked separately, see :meth:`status`)."""
        self.artifacts: TrackArtifacts | None = None
        self.loaded_at: datetime | None = None
        """When :meth:`load` last succeeded (the track's model went into service here)."""
        self.extractor: FeatureExtractor | None = None
        self._explainer: Explainer | None = None
        self._triton_seconds = self.metrics.triton_latency.labels(self.name, predictor.protocol)
        self._preprocess_seconds = self.metrics.preprocess_latency.labels(self.name)
        self._emails = {
            label: self.metrics.emails.labels(self.name, label) for label in ("spam", "ham")
        }

    # ------------------------------------------------------------------ lifecycle

    def load(self) -> bool:
        """Read and cross-check ``features.json`` + ``bundle.json`` (raises ArtifactError)."""
        artifacts = load_track_artifacts(self.track.features_uri)
        self.extractor = FeatureExtractor(artifacts.features)
        self._explainer = None
        self.artifacts = artifacts
        self.loaded_at = datetime.now(UTC)
        self.ready = True
        self.metrics.model_info.labels(
            self.name, self.model_name, self.model_version, self.track.triton_model
        ).set(1)
        log.info(
            "track loaded",
            environment=self.name,
            model_name=self.model_name,
            model_version=self.model_version,
            threshold=self.threshold,
            features=artifacts.features_uri,
            predictor=self.predictor.url,
            protocol=self.predictor.protocol,
            triton_model=self.track.triton_model,
        )
        return self.ready

    async def start(self) -> None:
        await self.predictor.start()

    async def stop(self) -> None:
        await self.predictor.close()

    # ------------------------------------------------------------------ what it reports

    def _meta(self) -> BundleMeta:
        if self.artifacts is None:
            raise ModelNotReady(f"the {self.name} model's artifacts are not loaded")
        return self.artifacts.meta

    @property
    def model_name(self) -> str:
        return self._meta().model_name

    @property
    def model_version(self) -> str:
        return self.track.model_version or self._meta().model_version

    @property
    def threshold(self) -> float:
        return self._meta().threshold

    def describe(self) -> dict[str, object]:
        """What the track serves, for the readiness document (``None`` values: not loaded)."""
        if not self.ready or self.artifacts is None:
            return dict.fromkeys(
                ("model_name", "model_version", "threshold", "feature_set", "trained_at",
                 "loaded_at")
            )  # fmt: skip
        meta = self.artifacts.meta
        return {
            "model_name": meta.model_name,
            "model_version": self.model_version,
            "threshold": meta.threshold,
            "feature_set": meta.feature_set,
            "trained_at": meta.created_at.isoformat(),
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
        }

    # ------------------------------------------------------------------ the ladder

    async def preprocess(self, emails: Sequence[EmailInput]) -> Preprocessed:
        """E-mails → records → feature matrix (spam_core; the batch path for a batch).

        Heavy requests (an e-mail over ``OFFLOAD_CHARS``, or over ``OFFLOAD_REQUEST_CHARS`` in
        all) are parsed and featurized in the worker pool.
        An e-mail that cannot be parsed refuses the request as ``InvalidInput`` naming it
        (the gateway then retries a merged call's e-mails one by one, so it fails alone).
        """
        if self.extractor is None:
            raise ModelNotReady(f"the {self.name} model's artifacts are not loaded")
        started = time.perf_counter()
        heavy = _heavy(emails)
        loop = asyncio.get_running_loop()
        if heavy:
            records = await loop.run_in_executor(_POOL, _records, emails)
        else:
            records = _records(emails)
        # the reputation first: cache hits at once, store lookups off the event loop
        reputation = FixedStats(await self.reputation.astats(records))
        if heavy:
            matrix = await loop.run_in_executor(_POOL, self._matrix, records, reputation)
        else:
            matrix = self._matrix(records, reputation)
        self._preprocess_seconds.observe(time.perf_counter() - started)
        return Preprocessed(records, matrix)

    def _matrix(self, records: list[EmailRecord], reputation: FixedStats) -> np.ndarray:
        if len(records) == 1:
            matrix = self.extractor.transform_record(records[0], reputation)[np.newaxis, :]
        else:
            matrix = self.extractor.transform_records(records, reputation)
        if matrix.shape != (len(records), N_FEATURES) or matrix.dtype != np.float32:
            raise TransformerError(  # a programming error: refuse, loudly
                f"preprocess produced {matrix.dtype} {list(matrix.shape)}, the model takes "
                f"float32 [{len(records)}, {N_FEATURES}]"
            )
        return matrix

    async def predict(
        self, matrix: np.ndarray, headers: Mapping[str, str] | None = None
    ) -> np.ndarray:
        """ONE Triton call for the request batch → spam probabilities, float32 (n,)."""
        started = time.perf_counter()
        try:
            return await self.predictor.infer(self.track.triton_model, matrix, headers)
        except (PredictorUnavailable, PredictorError) as exc:
            self.metrics.triton_errors.labels(self.name, exc.code).inc()
            raise
        finally:
            self._triton_seconds.observe(time.perf_counter() - started)

    def postprocess(self, pre: Preprocessed, probabilities: np.ndarray) -> list[dict[str, Any]]:
        """Threshold, label, confidence and the named features, in request order."""
        threshold = self.threshold
        engineered = pre.matrix[:, N_TFIDF:].tolist()
        out = []
        n_spam = 0
        for record, p, values in zip(pre.records, probabilities.tolist(), engineered, strict=True):
            answer = prediction(record.email_id, p, threshold)
            answer["features"] = dict(zip(NAMED_FEATURES, values, strict=True))
            n_spam += answer["prediction"] == "spam"
            out.append(answer)
        if n_spam:
            self._emails["spam"].inc(n_spam)
        if len(out) - n_spam:
            self._emails["ham"].inc(len(out) - n_spam)
        return out

    async def __call__(
        self,
        emails: Sequence[EmailInput],
        headers: Mapping[str, str] | None = None,
        *,
        explain: bool = False,
    ) -> list[dict[str, Any]]:
        pre = await self.preprocess(emails)
        probabilities = await self.predict(pre.matrix, headers)
        out = self.postprocess(pre, probabilities)
        if explain:  # TreeSHAP is CPU work: off the event loop
            explained = await asyncio.to_thread(self.explain, pre.matrix)
            for answer, explanation in zip(out, explained, strict=True):
                answer["explanation"] = explanation
        return out

    def explain(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        """Top contributions per row (``spam_core.explain``), from the track's xgboost.json
        next to its features.json, loaded on the first request that asks."""
        if self._explainer is None:
            if self.extractor is None:
                raise ModelNotReady(f"the {self.name} model's artifacts are not loaded")
            self._explainer = load_explainer(self.track.features_uri, self.extractor.feature_names)
        return [e.as_dict() for e in self._explainer.explain(matrix)]

    # ------------------------------------------------------------------ readiness

    async def status(self) -> ModelStatus:
        """Ready = artifacts loaded AND Triton serves the model with the right input width."""
        if not self.ready:
            return ModelStatus(False, "artifacts not loaded")
        return await self.predictor.model_status(self.track.triton_model, N_FEATURES)


def _heavy(emails: Sequence[EmailInput]) -> bool:
    """Whether the request is parsed in the worker pool (``OFFLOAD_CHARS``,
    ``OFFLOAD_REQUEST_CHARS``)."""
    total = 0
    for e in emails:
        n = len(e.raw or "") + len(e.body or "") + len(e.subject or "") + len(e.sender or "")
        if n > OFFLOAD_CHARS:
            return True
        total += n
    return total > OFFLOAD_REQUEST_CHARS


def _records(emails: Sequence[EmailInput]) -> list[EmailRecord]:
    records = []
    for index, email in enumerate(emails):
        try:
            records.append(
                record_from_input(
                    email.email_id,
                    raw=email.raw,
                    subject=email.subject,
                    body=email.body,
                    sender=email.sender,
                    date=email.date,
                )
            )
        except EmailLimitExceeded as exc:
            raise InvalidInput(
                f"e-mail {index} ({email.email_id!r}) is over a parsing limit: {exc}",
                [
                    {
                        "loc": ["emails", index],
                        "msg": str(exc),
                        "type": "limit_exceeded",
                        "limit": exc.limit,
                        "maximum": exc.maximum,
                    }
                ],
            ) from exc
        except InvalidEmailError as exc:
            raise InvalidInput(
                f"e-mail {index} ({email.email_id!r}) cannot be parsed: {exc}",
                [{"loc": ["emails", index], "msg": str(exc), "type": "invalid_email"}],
            ) from exc
        except Exception as exc:  # parse_raw never raises on content: a parser bug, this e-mail's
            log.exception("e-mail not parseable", index=index, email_id=email.email_id)
            raise InvalidInput(
                f"e-mail {index} ({email.email_id!r}) cannot be parsed",
                [{"loc": ["emails", index], "msg": type(exc).__name__, "type": "unparseable"}],
            ) from exc
    return records
