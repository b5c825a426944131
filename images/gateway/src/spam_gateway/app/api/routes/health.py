"""GET /health, GET /ready, GET /metrics: no API key (probes and Prometheus).

Without a key, /health and /ready say the status only (no addresses, paths or upstream
errors); with an ``operator`` key (``X-API-Key``) they add the details. A key that is
presented and unknown counts as a failed authentication, as anywhere else (``throttle``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from spam_gateway import __version__
from spam_gateway.app.api.deps import (
    InferenceLoggerDep,
    MetricsDep,
    SettingsDep,
    TransformerDep,
)
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.core.errors import GatewayError, NotReady
from spam_gateway.app.core.security import Role
from spam_gateway.app.models import ErrorOut, HealthOut, ReadyOut

router = APIRouter(tags=["health"])


async def operator_detail(
    request: Request,
    presented: Annotated[
        str | None,
        Header(
            alias="X-API-Key",
            description="Optional: an operator key adds the details (no key: the status only).",
        ),
    ] = None,
) -> bool:
    """Whether the caller may see the details: an ``operator`` key, not throttled."""
    if not presented:
        return False
    state = request.app.state
    client = request.client.host if request.client else ""
    try:
        state.throttle.check_client(client)
    except GatewayError:
        return False
    key = state.key_store.authenticate(presented)
    if key is None:
        state.metrics.auth_failures.inc()
        state.throttle.failed(client)
        return False
    return key.role.allows(Role.operator)


DetailDep = Annotated[bool, Depends(operator_detail)]


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "unhealthy"}},
    summary="Liveness and a summary of the services behind the gateway",
)
async def health(
    transformer: TransformerDep,
    inference_log: InferenceLoggerDep,
    settings: SettingsDep,
    operator: DetailDep,
) -> JSONResponse:
    """``healthy``; ``degraded`` (200) when the transformer is unreachable, its feature store
    (sender reputation) does not answer, or inference logs are being spooled; ``unhealthy``
    (503) only when the gateway itself is broken (the inference-log writer died), so a
    transformer outage never restarts gateway pods."""
    up, detail = await transformer.health(max_age_s=settings.HEALTH_CACHE_S)
    services = [{"name": "transformer", "status": "ok" if up else "down", "detail": detail}]
    status = "healthy" if up else "degraded"
    if up:
        # the transformer's Feast online store (sender reputation): down means e-mails are
        # scored with the default reputation: answers go on, the platform is degraded
        response = detail.get("response")
        reputation = response.get("reputation") if isinstance(response, dict) else None
        if isinstance(reputation, dict):
            ok = reputation.get("status") == "healthy"
            services.append(
                {
                    "name": "feature_store",
                    "status": "ok" if ok else "degraded",
                    "detail": reputation,
                }
            )
            if not ok:
                status = "degraded"
    if inference_log is not None:
        stats = inference_log.stats()
        state = stats["state"]
        service_status = {"ok": "ok", "spooling": "degraded"}.get(state, "down")
        if state == "dead":
            status = "unhealthy"
        elif service_status != "ok" or stats["records_dropped"]:
            status = "unhealthy" if status == "unhealthy" else "degraded"
        services.append({"name": "inference_log", "status": service_status, "detail": stats})
    code = 503 if status == "unhealthy" else 200
    if not operator:
        return JSONResponse({"status": status}, status_code=code)
    body = {"status": status, "version": __version__, "services": services}
    return JSONResponse(body, status_code=code)


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ErrorOut, "description": "transformer or a Triton track not ready"}},
    summary="Ready only when the transformer and both Triton tracks are ready",
)
async def ready(
    transformer: TransformerDep, settings: SettingsDep, operator: DetailDep
) -> JSONResponse:
    ok, found = await transformer.ready()
    if not ok:
        raise NotReady(
            "the transformer or a Triton track is not ready",
            details={"transformer": found} if operator else None,
            retry_after=settings.RETRY_AFTER_S,
        )
    return JSONResponse({"ready": True, "transformer": found} if operator else {"ready": True})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(metrics: MetricsDep) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
