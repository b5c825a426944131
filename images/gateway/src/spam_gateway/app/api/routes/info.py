"""GET /models and GET /info (role viewer): what this gateway serves and the limits it applies.

``/models`` reads the transformer's readiness document (``GET /ready``: per track, the model it
loaded from the bundle — name, version, threshold, feature set, build time, load time — and
whether Triton serves it), reused for ``HEALTH_CACHE_S`` so that polling clients do not reach
Triton on every call. When the transformer cannot be reached the tracks are listed as not
ready, with the name and version the gateway's settings give and ``null`` for the rest.
``/info`` is this process's own description (settings and constants, no upstream call).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from spam_gateway import API_VERSION, __version__
from spam_gateway.app.api.deps import SettingsDep, TransformerDep, ViewerKey
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.api.responses import AUTH
from spam_gateway.app.core.config import ENVIRONMENTS, Settings
from spam_gateway.app.models import InfoOut, ModelsOut

router = APIRouter(tags=["info"], responses=AUTH)

_MODEL_FIELDS = ("model_name", "model_version", "threshold", "feature_set", "trained_at")


def _track(settings: Settings, environment: str, reported: Any) -> dict[str, Any]:
    doc = reported if isinstance(reported, dict) else {}
    out: dict[str, Any] = {"environment": environment}
    for name in _MODEL_FIELDS:
        out[name] = doc.get(name)
    if out["model_name"] is None:  # not reported: what this gateway was told it serves
        out["model_name"] = settings.MODEL_NAME
        out["model_version"] = settings.model_versions[environment] or None
    out["deployed_at"] = doc.get("loaded_at")
    out["triton_model"] = doc.get("triton_model")
    out["ready"] = bool(doc.get("ready"))
    out["detail"] = str(doc.get("detail") or "the transformer did not report this track")
    return out


@router.get(
    "/models",
    response_model=ModelsOut,
    summary="The model each track serves, and whether it is ready",
)
async def models(
    _key: ViewerKey, settings: SettingsDep, transformer: TransformerDep
) -> JSONResponse:
    _, found = await transformer.ready(max_age_s=settings.HEALTH_CACHE_S)
    response = found.get("response")
    tracks = response.get("tracks") if isinstance(response, dict) else None
    tracks = tracks if isinstance(tracks, dict) else {}
    return JSONResponse(
        {
            "models": [_track(settings, env, tracks.get(env)) for env in ENVIRONMENTS],
            "default_environment": settings.DEFAULT_ENVIRONMENT,
        }
    )


@router.get("/info", response_model=InfoOut, summary="Service and API version, limits")
async def info(_key: ViewerKey, settings: SettingsDep) -> JSONResponse:
    return JSONResponse(
        {
            "service": "spam-platform gateway",
            "version": __version__,
            "api_version": API_VERSION,
            "tracks": list(ENVIRONMENTS),
            "default_environment": settings.DEFAULT_ENVIRONMENT,
            "limits": {
                "batch_sync_max_emails": settings.MAX_BATCH_SIZE,
                "max_body_bytes": settings.MAX_BODY_BYTES,
                "body_timeout_s": settings.BODY_TIMEOUT_S,
                "rate_limits": {
                    "auth_failures_per_client": settings.AUTH_FAILURES_PER_CLIENT or None,
                    "quota_viewer": settings.QUOTA_VIEWER or None,
                    "quota_operator": settings.QUOTA_OPERATOR or None,
                },
            },
            "openapi_url": "/openapi.json",
            "docs_url": "/docs",
        }
    )
