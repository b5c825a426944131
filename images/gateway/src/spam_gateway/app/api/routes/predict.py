"""POST /predict, its track aliases and POST /predict/batch-sync (role viewer).

``POST /predict/staging`` and ``POST /predict/production`` are ``POST /predict`` with the track
in the path, for clients that cannot set headers: same role, limits, scoring and logging; an
``X-Environment`` header, when sent, must name the same track (else 422
``environment_conflict``). :data:`PREDICT_PATHS` is the one table of these doors: the routes
are registered from it and the fast lane (``app/api/fastlane.py``) serves exactly these paths
with the same track rule (``access.resolve_environment``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from spam_core.message.wire import EmailIn
from spam_gateway.app.api.deps import (
    EnvironmentDep,
    ScorerDep,
    SettingsDep,
    ViewerKey,
    track_of,
)
from spam_gateway.app.api.errors import JSONResponse
from spam_gateway.app.api.responses import ERRORS
from spam_gateway.app.api.routing import OrjsonRoute
from spam_gateway.app.core.config import ENVIRONMENTS, Environment
from spam_gateway.app.core.errors import InvalidInput
from spam_gateway.app.models import BatchIn, BatchSyncOut, PredictionOut

PREFIX = "/predict"
PREDICT_PATHS: dict[str, Environment | None] = {
    PREFIX: None,
    **{f"{PREFIX}/{track}": track for track in ENVIRONMENTS},
}
"""Every path that scores one e-mail → the track its path names (``None``: X-Environment)."""

router = APIRouter(prefix=PREFIX, tags=["predict"], route_class=OrjsonRoute)

ExplainQuery = Annotated[
    bool,
    Query(
        description="Add `explanation` to each prediction: the top contributing features "
        "(TreeSHAP, signed log-odds; > 0 pushes towards spam) with readable names."
    ),
]


def _predict_on(track: Environment | None) -> Callable[..., Any]:
    """The handler of the ``POST`` route scoring one e-mail on ``track`` (``None``: the track
    of ``X-Environment``, else the default)."""

    async def predict(
        email: EmailIn,
        request: Request,
        _key: ViewerKey,
        scorer: ScorerDep,
        explain: ExplainQuery = False,
        environment: Environment = Depends(track_of(track)),
    ) -> JSONResponse:
        return JSONResponse(await scorer.one(request, environment, email, explain=explain))

    predict.__name__ = "predict" if track is None else f"predict_{track}"
    return predict


for _path, _track in PREDICT_PATHS.items():
    router.add_api_route(
        _path.removeprefix(PREFIX),
        _predict_on(_track),
        methods=["POST"],
        response_model=PredictionOut,
        responses=ERRORS,
        summary="Score one e-mail (fields or raw message)"
        if _track is None
        else f"Score one e-mail on the {_track} track",
        description="The model track comes from `X-Environment` (default from settings)."
        if _track is None
        else f"`POST /predict` with `X-Environment: {_track}`, for clients that cannot set "
        "headers: same role, limits and answer. An `X-Environment` header naming the other "
        "track is refused (422 `environment_conflict`).",
    )


@router.post(
    "/batch-sync",
    response_model=BatchSyncOut,
    responses=ERRORS,
    summary="Score up to 100 e-mails in one call; a bad e-mail fails alone",
    description="`predictions` in request order, `null` where an e-mail failed; `errors` says "
    "why, by index (an item that is not a valid e-mail, or one the transformer cannot parse). "
    "A body that is not an object with 1..100 `emails` is refused as a whole (422).",
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
    return JSONResponse(
        await scorer.batch_sync(request, environment, batch.emails, explain=explain)
    )
