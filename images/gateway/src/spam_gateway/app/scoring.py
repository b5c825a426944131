"""Predictions: transformer answers → public responses, inference-log records and metrics.

What the predict routes do besides validating input, kept out of the routes (the template's
``crud.py`` role).

A batch-sync request is scored e-mail by e-mail as far as failures go: an item that is not a
valid e-mail, or that the transformer refuses (422: over a parsing limit, unparseable), is
answered in ``errors`` and the others are scored. The transformer names the e-mail it refused
(``loc: ["emails", i]``); that one is set aside and the rest sent again in one call. After
``MAX_REFUSALS`` such rounds (or a refusal that names no e-mail) the rest go one by one, so a
batch of many bad e-mails costs at most one call per e-mail more. A failure that is not the
e-mail's (transformer or Triton down, a timeout) still fails the whole request.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from spam_core.inference_log import record as log_record
from spam_core.message.wire import EmailIn
from spam_gateway.app.core.config import Settings
from spam_gateway.app.core.errors import InvalidInput
from spam_gateway.app.feedback.recent import RecentEmails
from spam_gateway.app.inference_log import InferenceLogger
from spam_gateway.app.metrics import Metrics
from spam_gateway.app.shadow import ShadowScorer
from spam_gateway.app.transformer import TransformerClient, UpstreamBatch

MAX_REFUSALS = 3
"""Refusals of a batch-sync call answered by resending the rest together; then one by one."""
_ID_MAX = 256  # EmailIn.email_id's limit: a longer (invalid) id is not echoed back


class Scorer:
    def __init__(
        self,
        settings: Settings,
        transformer: TransformerClient,
        metrics: Metrics,
        inference_log: InferenceLogger | None,
        *,
        recent: RecentEmails | None = None,
        shadow: ShadowScorer | None = None,
    ) -> None:
        self.recent = recent
        """Scored e-mails kept for feedback that names them by email_id (app/feedback)."""
        self.shadow = shadow
        """Production answers also scored by the staging model, off the request path."""
        self.settings = settings
        self.transformer = transformer
        self.metrics = metrics
        self.inference_log = inference_log

    async def one(
        self, request: Request, environment: str, email: EmailIn, *, explain: bool = False
    ) -> dict[str, Any]:
        scope = request.scope
        if explain:  # not merged with other requests: only this one pays for TreeSHAP
            batch, index = (
                await self.transformer.predict(
                    environment, [email.upstream()], scope["spam.correlation_id"], explain=True
                ),
                0,
            )
        else:
            batch, index = await self.transformer.predict_one(
                environment, email.upstream(), scope["spam.correlation_id"]
            )
        (out,) = self._finish(scope, "predict", environment, batch, [index])
        if self.recent is not None:
            self.recent.add_many([email])
        if self.shadow is not None:
            self.shadow.offer(scope, "predict", environment, [email], [out])
        return out

    async def batch_sync(
        self, request: Request, environment: str, items: list[Any], *, explain: bool = False
    ) -> dict[str, Any]:
        """Every item answered in order: a prediction, or ``None`` and an entry in ``errors``."""
        scope = request.scope
        correlation_id = scope["spam.correlation_id"]
        errors: dict[int, dict[str, Any]] = {}
        pending: list[tuple[int, EmailIn]] = []
        for index, item in enumerate(items):
            if isinstance(item, EmailIn):
                pending.append((index, item))
            else:
                errors[index] = _invalid_item(index, item)
        predictions: list[dict[str, Any] | None] = [None] * len(items)
        refusals = 0
        while pending:
            try:
                batch = await self.transformer.predict(
                    environment, [e.upstream() for _, e in pending], correlation_id, explain=explain
                )
            except InvalidInput as exc:
                k = _refused_index(exc, len(pending))
                if k is not None and refusals < MAX_REFUSALS:
                    refusals += 1
                    index, email = pending.pop(k)
                    errors[index] = _refused_item(index, email, exc)
                    continue
                await self._one_by_one(scope, environment, pending, predictions, errors, explain)
                break
            outs = self._finish(scope, "batch-sync", environment, batch, range(len(pending)))
            for (index, _), out in zip(pending, outs, strict=True):
                predictions[index] = out
            break
        for error in errors.values():
            reason = "refused" if error.pop("_refused", False) else "validation"
            self.metrics.batch_item_errors.labels(environment, reason).inc()
        if self.recent is not None:
            self.recent.add_many([items[i] for i, p in enumerate(predictions) if p is not None])
        if self.shadow is not None:
            scored = [i for i, p in enumerate(predictions) if p is not None]
            self.shadow.offer(
                scope, "batch-sync", environment, [items[i] for i in scored],
                [predictions[i] for i in scored],
            )  # fmt: skip
        return {
            "predictions": predictions,
            "errors": [errors[i] for i in sorted(errors)],
            "total": len(items),
            "succeeded": len(items) - len(errors),
            "failed": len(errors),
            "environment": environment,
            "latency_ms": round((time.perf_counter() - scope["spam.started"]) * 1000.0, 3),
        }

    async def _one_by_one(
        self,
        scope: dict[str, Any],
        environment: str,
        pending: list[tuple[int, EmailIn]],
        predictions: list[dict[str, Any] | None],
        errors: dict[int, dict[str, Any]],
        explain: bool,
    ) -> None:
        async def alone(email: EmailIn) -> UpstreamBatch | InvalidInput:
            try:
                return await self.transformer.predict(
                    environment, [email.upstream()], scope["spam.correlation_id"], explain=explain
                )
            except InvalidInput as exc:  # anything else fails the request
                return exc

        answers = await asyncio.gather(*(alone(email) for _, email in pending))
        for (index, email), answer in zip(pending, answers, strict=True):
            if isinstance(answer, InvalidInput):
                errors[index] = _refused_item(index, email, answer)
            else:
                (predictions[index],) = self._finish(scope, "batch-sync", environment, answer, [0])

    def _finish(
        self, scope: dict[str, Any], route: str, environment: str, batch: UpstreamBatch, indices
    ) -> list[dict[str, Any]]:
        model_name = batch.model_name or self.settings.MODEL_NAME
        model_version = batch.model_version or self.settings.model_versions[environment]
        scope["spam.model_version"] = model_version
        scope["spam.threshold"] = batch.threshold
        latency_ms = round((time.perf_counter() - scope["spam.started"]) * 1000.0, 3)
        now = time.time()
        outs = []
        records = []
        for i in indices:
            p = batch.predictions[i]
            label = p["prediction"]
            outs.append(
                {
                    "email_id": p["email_id"],
                    "prediction": label,
                    "spam_probability": p["spam_probability"],
                    "confidence": p["confidence"],
                    "model_name": model_name,
                    "model_version": model_version,
                    "environment": environment,
                    "latency_ms": latency_ms,
                }
            )
            if "explanation" in p:
                outs[-1]["explanation"] = p["explanation"]
            self.metrics.predictions.labels(environment, model_version, label).inc()
            if self.inference_log is not None:
                records.append(
                    log_record(
                        timestamp=now,
                        environment=environment,
                        correlation_id=scope["spam.correlation_id"],
                        route=route,
                        model_name=model_name,
                        model_version=model_version,
                        email_id=p["email_id"],
                        spam_probability=p["spam_probability"],
                        prediction=label,
                        confidence=p["confidence"],
                        threshold=batch.threshold,
                        latency_ms=latency_ms,
                        features=p.get("features"),
                    )
                )
        if records:
            self.inference_log.log_many(records)  # type: ignore[union-attr]
        return outs


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def _given_id(item: Any) -> str | None:
    email_id = item.get("email_id") if isinstance(item, dict) else None
    return email_id if isinstance(email_id, str) and len(email_id) <= _ID_MAX else None


def _invalid_item(index: int, item: Any) -> dict[str, Any]:
    """The error entry of an item that is not a valid :class:`EmailIn`."""
    try:
        EmailIn.model_validate(item)
    except ValidationError as exc:
        details = _details(exc)
    else:  # pragma: no cover - the request model tried EmailIn first
        details = []
    first = details[0]["msg"] if details else "not an e-mail"
    return {
        "index": index,
        "email_id": _given_id(item),
        "code": InvalidInput.code,
        "message": f"e-mail {index} is not valid: {first}",
        "details": details,
    }


def _upstream_items(exc: InvalidInput) -> list[dict[str, Any]]:
    """The transformer's per-e-mail details of a 422 (``loc: ["emails", i, ...]``)."""
    upstream = exc.details.get("details") if isinstance(exc.details, dict) else None
    if not isinstance(upstream, list):
        return []
    return [
        d
        for d in upstream
        if isinstance(d, dict)
        and isinstance(d.get("loc"), list)
        and len(d["loc"]) >= 2
        and d["loc"][0] == "emails"
        and isinstance(d["loc"][1], int)
    ]


def _refused_index(exc: InvalidInput, n: int) -> int | None:
    """Which of the ``n`` e-mails sent the transformer refused (``None``: it does not say)."""
    if n == 1:
        return 0
    named = {d["loc"][1] for d in _upstream_items(exc)}
    if len(named) == 1 and 0 <= (k := named.pop()) < n:
        return k
    return None


def _refused_item(index: int, email: EmailIn, exc: InvalidInput) -> dict[str, Any]:
    """The error entry of an e-mail the transformer refused (422)."""
    items = _upstream_items(exc)
    details = [{**{k: v for k, v in d.items() if k != "loc"}, "loc": d["loc"][2:]} for d in items]
    reason = items[0].get("msg") if items else None
    return {
        "index": index,
        "email_id": email.email_id,
        "code": InvalidInput.code,
        "message": f"e-mail {index} cannot be scored: {reason or exc.message}",
        "details": details or None,
        "_refused": True,
    }
