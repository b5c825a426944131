"""Drift results on the API (role operator), read from the drift-reports location the drift
job writes (``spam_core.drift_reports``: ``<environment>/drift-<environment>-<window>.json``).

* ``GET /monitoring/drift`` — per environment, the latest report's verdict: status,
  ``drift_detected``, aggregate score, per model version, and where the report is;
* ``GET /monitoring/drift/history`` — the verdicts of past windows, newest first.

An environment without reports answers ``latest: null``; an unreadable report file is left out
and named in ``unreadable``. Storage calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from spam_core import drift_reports
from spam_gateway.app.api.deps import OperatorKey, SettingsDep
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.api.responses import AUTH
from spam_gateway.app.core.config import ENVIRONMENTS, Environment, Settings
from spam_gateway.app.inference_log import LogStore

router = APIRouter(prefix="/monitoring", tags=["monitoring"], responses=AUTH)


def _location(settings: Settings) -> LogStore:
    # the inference log's store class: same URL forms and Azure credentials
    return LogStore(settings.DRIFT_REPORTS_URL, **settings.store_credentials())


def _read(
    settings: Settings, environments: list[str], limit: int | None
) -> dict[str, dict[str, Any]]:
    store = _location(settings)
    out: dict[str, dict[str, Any]] = {}
    for environment in environments:
        found = drift_reports.history(store.fs, store.root, environment, limit)
        out[environment] = {
            "reports": found.reports,
            "unreadable": found.unreadable,
            "total": found.total,
        }
    return out


@router.get("/drift", summary="Latest drift verdict per environment and model version")
async def drift(_key: OperatorKey, settings: SettingsDep) -> JSONResponse:
    found = await asyncio.to_thread(_read, settings, list(ENVIRONMENTS), 1)
    return JSONResponse(
        {
            "reports_url": settings.DRIFT_REPORTS_URL,
            "environments": [
                {
                    "environment": env,
                    "latest": found[env]["reports"][0] if found[env]["reports"] else None,
                    "reports": found[env]["total"],
                    "unreadable": found[env]["unreadable"],
                }
                for env in ENVIRONMENTS
            ],
        }
    )


@router.get("/drift/history", summary="Past drift verdicts of one environment, newest first")
async def drift_history(
    _key: OperatorKey,
    settings: SettingsDep,
    environment: Annotated[Environment, Query(description="staging or production")],
    limit: Annotated[int, Query(ge=1, le=1000, description="Most reports returned")] = 100,
) -> JSONResponse:
    found = (await asyncio.to_thread(_read, settings, [environment], limit))[environment]
    return JSONResponse(
        {
            "environment": environment,
            "reports": found["reports"],
            "total": found["total"],
            "unreadable": found["unreadable"],
        }
    )
