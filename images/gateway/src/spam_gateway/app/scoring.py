"""Predictions: transformer answers → public responses, inference-log records and metrics.

What the predict routes do besides validating input, kept out of the routes (the template's
``crud.py`` role).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from spam_core.message.wire import EmailIn
from spam_gateway.app.core.config import Settings
from spam_gateway.app.feedback.recent import RecentEmails
from spam_gateway.app.inference_log import InferenceLogger
from spam_gateway.app.metrics import Metrics
from spam_gateway.app.transformer import TransformerClient, UpstreamBatch


class Scorer:
    def __init__(
        self,
        settings: Settings,
        transformer: TransformerClient,
        metrics: Metrics,
        inference_log: InferenceLogger | None,
        *,
        recent: RecentEmails | None = None,
    ) -> None:
        self.recent = recent
        """Scored e-mails kept for feedback that names them by email_id (app/feedback)."""
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
        return out

    async def many(
        self, request: Request, environment: str, emails: list[EmailIn], *, explain: bool = False
    ) -> list[dict[str, Any]]:
        scope = request.scope
        batch = await self.transformer.predict(
            environment,
            [e.upstream() for e in emails],
            scope["spam.correlation_id"],
            explain=explain,
        )
        outs = self._finish(scope, "batch-sync", environment, batch, range(len(emails)))
        if self.recent is not None:
            self.recent.add_many(emails)
        return outs

    def _finish(
        self, scope: dict[str, Any], route: str, environment: str, batch: UpstreamBatch, indices
    ) -> list[dict[str, Any]]:
        model_name = batch.model_name or self.settings.MODEL_NAME
        model_version = batch.model_version or self.settings.model_versions[environment]
        scope["spam.model_version"] = model_version
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
                    {
                        "timestamp": now,
                        "correlation_id": scope["spam.correlation_id"],
                        "route": route,
                        "environment": environment,
                        "model_name": model_name,
                        "model_version": model_version,
                        "email_id": p["email_id"],
                        "spam_probability": p["spam_probability"],
                        "prediction": label,
                        "confidence": p["confidence"],
                        "threshold": batch.threshold,
                        "latency_ms": latency_ms,
                        "features": p.get("features"),
                    }
                )
        if records:
            self.inference_log.log_many(records)  # type: ignore[union-attr]
        return outs
