"""Operator-only routes."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from spam_gateway.app.api.deps import InferenceLoggerDep, OperatorKey, SettingsDep
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.api.responses import AUTH

router = APIRouter(prefix="/admin", tags=["admin"], responses=AUTH)


@router.get("/config", summary="Non-secret settings of this gateway")
async def config(_key: OperatorKey, settings: SettingsDep) -> JSONResponse:
    return JSONResponse(settings.public())


@router.post("/inference-log/flush", summary="Write buffered inference-log records now")
async def flush_inference_log(_key: OperatorKey, inference_log: InferenceLoggerDep) -> JSONResponse:
    if inference_log is None:
        return JSONResponse({"enabled": False})
    flushed = await asyncio.to_thread(inference_log.flush)
    return JSONResponse({"enabled": True, "flushed": flushed, **inference_log.stats()})
