"""The API router: every route module of ``app/api/routes``."""

from __future__ import annotations

from fastapi import APIRouter

from spam_gateway.app.api.routes import admin, batch, health, monitoring, predict

api_router = APIRouter()
api_router.include_router(predict.router)
api_router.include_router(health.router)
api_router.include_router(admin.router)
api_router.include_router(batch.router)
api_router.include_router(monitoring.router)
