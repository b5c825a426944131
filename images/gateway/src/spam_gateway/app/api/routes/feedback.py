"""POST /feedback and POST /feedback/batch (role reporter): user-reported labels.

Thin routes over ``app/feedback/service.py``; see the README, "User feedback".
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request

from spam_gateway.app.api.deps import ReporterKey
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.api.responses import AUTH, BODY
from spam_gateway.app.api.routing import OrjsonRoute
from spam_gateway.app.core.errors import NotReady
from spam_gateway.app.feedback.models import (
    FeedbackBatchIn,
    FeedbackBatchOut,
    FeedbackIn,
    FeedbackOut,
)
from spam_gateway.app.feedback.service import RETRY_AFTER_S, FeedbackService
from spam_gateway.app.models import ErrorOut

router = APIRouter(prefix="/feedback", tags=["feedback"], route_class=OrjsonRoute)

_E: dict[str, Any] = {"model": ErrorOut}
RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH,
    **BODY,
    404: {**_E, "description": "unknown_email: no recent prediction has this email_id"},
    503: {
        **_E,
        "description": "feedback_disabled, feedback_unavailable or feature_store_unavailable "
        "(see Retry-After): nothing was recorded",
    },
}


def _service(request: Request) -> FeedbackService:
    service = getattr(request.app.state, "feedback", None)
    if service is None:
        raise NotReady(
            "feedback is not enabled on this gateway (SPAM_GATEWAY_FEEDBACK_FEAST_REPO)",
            retry_after=RETRY_AFTER_S,
            code="feedback_disabled",
        )
    return service


@router.post(
    "",
    response_model=FeedbackOut,
    responses=RESPONSES,
    summary="Report one e-mail as spam or ham",
)
async def report(report: FeedbackIn, request: Request, key: ReporterKey) -> JSONResponse:
    (out,) = await _service(request).submit(key, [report], request.scope["spam.correlation_id"])
    return JSONResponse(out)


@router.post(
    "/batch",
    response_model=FeedbackBatchOut,
    responses=RESPONSES,
    summary="Report up to 100 e-mails in one call (applied in order, all or none validated)",
)
async def report_batch(batch: FeedbackBatchIn, request: Request, key: ReporterKey) -> JSONResponse:
    outs = await _service(request).submit(key, batch.reports, request.scope["spam.correlation_id"])
    return JSONResponse({"reports": outs, "counts": dict(Counter(o["status"] for o in outs))})
