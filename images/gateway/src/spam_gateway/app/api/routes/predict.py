"""POST /predict and POST /predict/batch-sync (role viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from spam_core.message.wire import EmailIn
from spam_gateway.app.api.deps import EnvironmentDep, ScorerDep, SettingsDep, ViewerKey
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.api.responses import ERRORS
from spam_gateway.app.api.routing import OrjsonRoute
from spam_gateway.app.core.errors import InvalidInput
from spam_gateway.app.models import BatchIn, PredictionOut

router = APIRouter(prefix="/predict", tags=["predict"], route_class=OrjsonRoute)

ExplainQuery = Annotated[
    bool,
    Query(
        description="Add `explanation` to each prediction: the top contributing features "
        "(TreeSHAP, signed log-odds; > 0 pushes towards spam) with readable names."
    ),
]


@router.post(
    "",
    response_model=PredictionOut,
    responses=ERRORS,
    summary="Score one e-mail (fields or raw message)",
)
async def predict(
    email: EmailIn,
    request: Request,
    _key: ViewerKey,
    environment: EnvironmentDep,
    scorer: ScorerDep,
    explain: ExplainQuery = False,
) -> JSONResponse:
    return JSONResponse(await scorer.one(request, environment, email, explain=explain))


@router.post(
    "/batch-sync",
    response_model=list[PredictionOut],
    responses=ERRORS,
    summary="Score up to 100 e-mails in one call",
)
async def predict_batch_sync(
    batch: BatchIn,
    request: Request,
    _key: ViewerKey,
    environment: EnvironmentDep,
    scorer: ScorerDep,
    settings: SettingsDep,
    explain: ExplainQuery = False,
) -> JSONResponse:
    if len(batch.emails) > settings.MAX_BATCH_SIZE:
        raise InvalidInput(
            f"at most {settings.MAX_BATCH_SIZE} e-mails per batch-sync request",
            details={"received": len(batch.emails), "limit": settings.MAX_BATCH_SIZE},
        )
    return JSONResponse(await scorer.many(request, environment, batch.emails, explain=explain))
