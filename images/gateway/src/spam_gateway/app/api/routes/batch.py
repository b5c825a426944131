"""Async batch jobs on Ray: POST /predict/batch, GET /predict/batch/{job_id} (role operator).

PREPARED, NOT SERVED: the router is not included in ``app/api/main.py`` yet. The job backend
(``SPAM_GATEWAY_BATCH_BACKEND``: ``local`` = Ray in-process / local cluster, ``rayjob`` =
KubeRay RayJob from ``SPAM_GATEWAY_BATCH_RAYJOB_TEMPLATE`` in ``SPAM_GATEWAY_BATCH_NAMESPACE``)
is a separate piece of work; until then both routes answer 501 with the error envelope.
Whoever implements it replaces the two bodies (keeping the schemas in ``app/models.py``) and
includes this router; every scored row must also reach the inference log.
"""

from __future__ import annotations

from fastapi import APIRouter

from spam_gateway.app.api.deps import EnvironmentDep, OperatorKey, SettingsDep
from spam_gateway.app.api.responses import AUTH
from spam_gateway.app.core.errors import NotImplementedYet
from spam_gateway.app.models import BatchJobIn, BatchJobOut

router = APIRouter(prefix="/predict/batch", tags=["batch"], responses=AUTH)


@router.post("", response_model=BatchJobOut, status_code=202, summary="Start an async batch job")
async def start_batch_job(
    job: BatchJobIn, _key: OperatorKey, environment: EnvironmentDep, settings: SettingsDep
) -> BatchJobOut:
    raise NotImplementedYet(
        "async batch jobs are not implemented yet",
        details={"batch_backend": settings.BATCH_BACKEND, "input_path": job.input_path},
    )


@router.get("/{job_id}", response_model=BatchJobOut, summary="Status of an async batch job")
async def get_batch_job(job_id: str, _key: OperatorKey, settings: SettingsDep) -> BatchJobOut:
    raise NotImplementedYet(
        "async batch jobs are not implemented yet",
        details={"batch_backend": settings.BATCH_BACKEND, "job_id": job_id},
    )
