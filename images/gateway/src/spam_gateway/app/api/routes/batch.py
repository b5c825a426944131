"""Async batch jobs on Ray: POST /predict/batch, GET /predict/batch/{job_id} (role operator).

Thin routes over ``app/batch_jobs.py`` (backends ``local`` and ``rayjob``). Each job scores
through the same feature code and model bundle as ``/predict`` and appends every prediction to
the inference log.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from spam_core.jobs import JobStatus
from spam_gateway.app.api.deps import EnvironmentDep, OperatorKey
from spam_gateway.app.api.responses import BATCH
from spam_gateway.app.api.routing import OrjsonRoute
from spam_gateway.app.batch_jobs import BatchJobs
from spam_gateway.app.core.errors import NotFound
from spam_gateway.app.models import BatchJobIn, BatchJobOut

router = APIRouter(
    prefix="/predict/batch", tags=["batch"], responses=BATCH, route_class=OrjsonRoute
)


def _out(status: JobStatus) -> BatchJobOut:
    return BatchJobOut(
        job_id=status.job_id,
        status=status.state,
        environment=status.environment,  # type: ignore[arg-type]
        input_path=status.input_path,
        output_path=status.output_path,
        model_version=status.model_version,
        counts=status.counts.model_dump(),
        errors=status.errors,
        created_at=status.created_at,
        finished_at=status.finished_at,
    )


def _jobs(request: Request) -> BatchJobs:
    return request.app.state.batch_jobs


@router.post("", response_model=BatchJobOut, status_code=202, summary="Start an async batch job")
async def start_batch_job(
    job: BatchJobIn, _key: OperatorKey, environment: EnvironmentDep, request: Request
) -> BatchJobOut:
    return _out(await _jobs(request).submit(job.input_path, job.output_path, environment))


@router.get("/{job_id}", response_model=BatchJobOut, summary="Status of an async batch job")
async def get_batch_job(job_id: str, _key: OperatorKey, request: Request) -> BatchJobOut:
    status = await _jobs(request).get(job_id)
    if status is None:
        raise NotFound(f"no batch job {job_id!r}")
    return _out(status)
