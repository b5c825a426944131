"""Composition root (KServe's ``model_server.py``): settings → tracks → data plane → app → uvicorn.

``create_app(settings)`` opens the Feast repository and loads both tracks' artifacts (an
``ArtifactError`` stops the process before it listens) and returns the FastAPI app; the Triton
clients start in the app's lifespan.
``serve(settings)`` runs it under uvicorn (uvloop + httptools, one worker by default). SIGTERM /
SIGINT: uvicorn stops accepting, lets in-flight requests finish for up to
``GRACEFUL_SHUTDOWN_S``, then the lifespan closes the Triton clients.
"""

from __future__ import annotations

import logging
import sys

from fastapi import FastAPI

from spam_core.logs import configure_logging
from spam_transformer.config import TransformerSettings
from spam_transformer.metrics import TransformerMetrics
from spam_transformer.model import SpamTransformer
from spam_transformer.predictor import TritonPredictor
from spam_transformer.protocol.dataplane import DataPlane
from spam_transformer.protocol.rest.server import RESTServer


def build_reputation(settings: TransformerSettings, metrics: TransformerMetrics):
    """The Feast online store of the sender reputation, shared by both tracks."""
    from spam_core.reputation.online import OnlineReputation

    return OnlineReputation.from_repo(
        settings.FEAST_REPO_PATH,
        cache_ttl_s=settings.REPUTATION_CACHE_TTL_S,
        cache_size=settings.REPUTATION_CACHE_SIZE,
        retry_after_s=settings.REPUTATION_RETRY_AFTER_S,
        on_lookup=lambda outcome, n: metrics.reputation_lookups.labels(outcome).inc(n),
    )


def build_dataplane(
    settings: TransformerSettings, metrics: TransformerMetrics, reputation=None
) -> DataPlane:
    reputation = reputation or build_reputation(settings, metrics)
    models = {}
    for track in settings.tracks():
        predictor = TritonPredictor(
            track.predictor_url,
            settings.PROTOCOL,
            timeout_s=settings.TRITON_TIMEOUT_S,
            ready_timeout_s=settings.READY_TIMEOUT_S,
            max_reconnect_backoff_ms=settings.GRPC_MAX_RECONNECT_BACKOFF_MS,
        )
        models[track.environment] = SpamTransformer(track, predictor, reputation, metrics)
    return DataPlane(models, reputation, max_batch=settings.MAX_BATCH, metrics=metrics)


def create_app(settings: TransformerSettings | None = None, *, load: bool = True) -> FastAPI:
    settings = settings or TransformerSettings()
    metrics = TransformerMetrics()
    dataplane = build_dataplane(settings, metrics)
    if load:
        dataplane.load()
    server = RESTServer(
        dataplane,
        metrics,
        max_request_bytes=settings.MAX_REQUEST_BYTES,
        retry_after_s=settings.RETRY_AFTER_S,
    )
    app = server.create_application()
    app.state.dataplane = dataplane
    app.state.settings = settings
    return app


def app_from_env() -> FastAPI:
    """uvicorn factory for ``WORKERS > 1`` (each worker process loads its own tracks)."""
    settings = TransformerSettings()
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    return create_app(settings)


def configure(settings: TransformerSettings) -> None:
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    # uvicorn and the libraries log through the standard library: warnings and errors only
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def uvicorn_options(settings: TransformerSettings) -> dict[str, object]:
    return {
        "host": settings.HOST,
        "port": settings.PORT,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "log_config": None,
        "access_log": settings.ACCESS_LOG,
        "server_header": False,
        "timeout_graceful_shutdown": settings.GRACEFUL_SHUTDOWN_S,
        "timeout_keep_alive": 75,  # longer than the gateway's pool keeps idle connections
    }


def serve(settings: TransformerSettings) -> None:
    import uvicorn

    if settings.WORKERS > 1:
        uvicorn.run(
            "spam_transformer.server:app_from_env",
            factory=True,
            workers=settings.WORKERS,
            **uvicorn_options(settings),  # type: ignore[arg-type]
        )
        return
    app = create_app(settings)
    uvicorn.Server(uvicorn.Config(app, **uvicorn_options(settings))).run()  # type: ignore[arg-type]
