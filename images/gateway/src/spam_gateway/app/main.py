"""Builds the gateway application: settings, middleware, exception handlers, routers, lifespan.

``create_app`` is the uvicorn factory (``spam_gateway.app.main:create_app``). The lifespan
opens the pooled transformer client and starts the inference logger (and, with
``FEEDBACK_FEAST_REPO``, the feedback service; with ``SHADOW_ENABLED``, shadow scoring); on
shutdown it closes the client and flushes the inference, feedback and shadow logs (store, else
local spool).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware

from spam_core.fastlane import FastLane
from spam_gateway import __version__
from spam_gateway.app.api.errors import JSONResponse, register_exception_handlers
from spam_gateway.app.api.fastlane import lane_routes
from spam_gateway.app.api.gate import AccessGate
from spam_gateway.app.api.main import ROUTERS, api_router
from spam_gateway.app.api.middleware import RequestContextMiddleware
from spam_gateway.app.batch_jobs import BatchJobs
from spam_gateway.app.core.config import Settings, get_settings
from spam_gateway.app.core.logging import configure_logging
from spam_gateway.app.core.security import ApiKeyStore, Role
from spam_gateway.app.core.throttle import Throttle
from spam_gateway.app.feedback.recent import RecentEmails
from spam_gateway.app.feedback.service import FeedbackService
from spam_gateway.app.inference_log import InferenceLogger, LogStore
from spam_gateway.app.metrics import Metrics
from spam_gateway.app.scoring import Scorer
from spam_gateway.app.shadow import ShadowScorer, build_shadow_log
from spam_gateway.app.transformer import TransformerClient

log = structlog.get_logger("spam_gateway")

DESCRIPTION = """\
Spam detection API. Send an e-mail (its fields or the raw RFC 822 message) and get
`spam`/`ham` with a probability. Every route except health, readiness, metrics and these docs
needs an `X-API-Key`; `X-Environment: staging|production` picks the model track.
Errors are always `{"error": {"code", "message", "details"}, "correlation_id", "timestamp"}`.
"""


CORS_METHODS = ("GET", "POST")
CORS_REQUEST_HEADERS = ("X-API-Key", "X-Environment", "X-Correlation-ID", "Content-Type")
CORS_RESPONSE_HEADERS = ("X-Correlation-ID", "Retry-After")
"""What a browser page may send and read cross-origin: the API's own headers."""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def build_inference_logger(settings: Settings) -> InferenceLogger:
    store = LogStore(
        settings.INFERENCE_LOG_URL,
        **settings.store_credentials(),
        timeout_s=settings.INFERENCE_LOG_TIMEOUT_S,
    )
    return InferenceLogger(
        store,
        settings.INFERENCE_LOG_SPOOL_DIR,
        batch_size=settings.INFERENCE_LOG_BATCH_SIZE,
        flush_interval_s=settings.INFERENCE_LOG_FLUSH_INTERVAL_S,
        retry_interval_s=settings.INFERENCE_LOG_RETRY_INTERVAL_S,
        max_pending=settings.INFERENCE_LOG_MAX_PENDING,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    inline = settings.API_KEYS.get_secret_value() if settings.API_KEYS else None
    key_store = ApiKeyStore(path=settings.API_KEYS_FILE, inline=inline)  # fails fast
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        transformer = TransformerClient(
            settings.TRANSFORMER_URL,
            metrics=metrics,
            connect_timeout_s=settings.UPSTREAM_CONNECT_TIMEOUT_S,
            timeout_s=settings.UPSTREAM_TIMEOUT_S,
            max_connections=settings.UPSTREAM_MAX_CONNECTIONS,
            max_inflight=settings.UPSTREAM_MAX_INFLIGHT,
            max_batch=settings.MAX_BATCH_SIZE,
            retry_after_s=settings.RETRY_AFTER_S,
            health_timeout_s=settings.HEALTH_TIMEOUT_S,
        )
        inference_log = None
        if settings.INFERENCE_LOG_ENABLED:
            inference_log = build_inference_logger(settings)
            inference_log.start()
            metrics.register_inference_log(inference_log.stats)
        feedback = None
        recent = None
        if settings.FEEDBACK_FEAST_REPO is not None:
            if settings.FEEDBACK_RECENT_EMAILS_MB:
                recent = RecentEmails(settings.FEEDBACK_RECENT_EMAILS_MB * 1024 * 1024)
            feedback = FeedbackService(settings, recent)
            feedback.start()
        shadow = None
        if settings.SHADOW_ENABLED:
            shadow = ShadowScorer(settings, build_shadow_log(settings))
            shadow.start()
            metrics.register_shadow(shadow.stats)
        app.state.transformer = transformer
        app.state.inference_logger = inference_log
        app.state.feedback = feedback
        app.state.shadow = shadow
        app.state.scorer = Scorer(
            settings, transformer, metrics, inference_log, recent=recent, shadow=shadow
        )
        log.info(
            "gateway.started",
            version=__version__,
            transformer=settings.TRANSFORMER_URL,
            default_environment=settings.DEFAULT_ENVIRONMENT,
            inference_log=settings.INFERENCE_LOG_URL if inference_log else None,
            shadow_sample_rate=settings.SHADOW_SAMPLE_RATE if shadow else None,
            api_keys=len(key_store),
        )
        try:
            yield
        finally:
            if shadow is not None:
                await shadow.aclose(settings.SHADOW_TIMEOUT_S)
                await asyncio.to_thread(shadow.log.close, settings.INFERENCE_LOG_TIMEOUT_S + 2)
                metrics.unregister_shadow()
                log.info("gateway.shadow_stopped", **shadow.stats())
            await transformer.aclose()
            if feedback is not None:
                await asyncio.to_thread(feedback.close, settings.INFERENCE_LOG_TIMEOUT_S + 2)
            if inference_log is not None:
                await asyncio.to_thread(inference_log.close, settings.INFERENCE_LOG_TIMEOUT_S + 2)
                metrics.unregister_inference_log()
                log.info("gateway.stopped", **inference_log.stats())

    app = FastAPI(
        title="spam-platform gateway",
        description=DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        default_response_class=JSONResponse,
        generate_unique_id_function=_operation_id,
        # FastAPI's native OpenTelemetry hooks stay off (as in the transformer): /metrics is
        # the gateway's telemetry, and the per-request checks cost throughput
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.batch_jobs = BatchJobs(settings)
    app.state.key_store = key_store
    app.state.metrics = metrics
    app.state.inference_logger = None
    app.state.feedback = None
    app.state.shadow = None
    app.state.throttle = Throttle(
        settings.AUTH_FAILURES_PER_CLIENT,
        {
            Role.viewer: settings.QUOTA_VIEWER,
            Role.reporter: settings.QUOTA_REPORTER,
            Role.operator: settings.QUOTA_OPERATOR,
        },
    )
    # outermost first: CORSMiddleware (only with CORS_ALLOW_ORIGINS) → RequestContextMiddleware
    # → AccessGate (the key, before any body is read: app/api/gate.py) → FastLane
    # (/predict: app/api/fastlane.py) → FastAPI
    app.add_middleware(FastLane, routes=lane_routes())
    app.add_middleware(AccessGate, routes=[r for router in ROUTERS for r in router.routes])
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.MAX_BODY_BYTES,
        body_timeout_s=settings.BODY_TIMEOUT_S,
        access_log=settings.ACCESS_LOG,
    )
    if settings.CORS_ALLOW_ORIGINS:
        # outermost: preflights are answered here, and every answer (413 and 500 included)
        # carries the CORS headers a browser needs to let the page read it
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ALLOW_ORIGINS,
            allow_credentials=settings.CORS_ALLOW_CREDENTIALS,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_RESPONSE_HEADERS,
            max_age=settings.CORS_MAX_AGE_S,
        )
    register_exception_handlers(app)
    app.include_router(api_router)
    return app
