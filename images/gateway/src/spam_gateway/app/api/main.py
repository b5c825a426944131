"""The API router: every route module of ``app/api/routes``."""

from __future__ import annotations

from fastapi import APIRouter

from spam_gateway.app.api.routes import admin, batch, feedback, health, info, monitoring, predict

ROUTERS = (
    predict.router,
    info.router,
    health.router,
    admin.router,
    batch.router,
    monitoring.router,
    feedback.router,
)
"""The route modules' routers (their routes carry the full paths: no prefix is added here)."""

api_router = APIRouter()
for _router in ROUTERS:
    api_router.include_router(_router)
