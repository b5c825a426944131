"""Route dependencies and their ``Annotated`` aliases (tests may override any of them).

Everything long-lived (settings, key store, transformer client, inference logger, metrics)
is built once by the lifespan in ``app/main.py`` and kept on ``app.state``. Every dependency
is ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, which
costs far more than the dictionary lookup it wraps (README, "Measured design choices").
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import APIKeyHeader

from spam_gateway.app.api.gate import SCOPE_KEY
from spam_gateway.app.core.access import (
    ROLE_ATTRIBUTE,
    authenticate,
    authorize,
    resolve_environment,
)
from spam_gateway.app.core.config import ENVIRONMENTS, Environment, Settings
from spam_gateway.app.core.security import ApiKey, Role
from spam_gateway.app.inference_log import InferenceLogger
from spam_gateway.app.metrics import Metrics
from spam_gateway.app.scoring import Scorer
from spam_gateway.app.transformer import TransformerClient

_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key; role `viewer` may predict, `reporter` may also report feedback, "
    "`operator` may also use batch and admin.",
)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_transformer(request: Request) -> TransformerClient:
    return request.app.state.transformer


async def get_inference_logger(request: Request) -> InferenceLogger | None:
    return request.app.state.inference_logger


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def get_scorer(request: Request) -> Scorer:
    return request.app.state.scorer


SettingsDep = Annotated[Settings, Depends(get_settings)]
TransformerDep = Annotated[TransformerClient, Depends(get_transformer)]
InferenceLoggerDep = Annotated[InferenceLogger | None, Depends(get_inference_logger)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ScorerDep = Annotated[Scorer, Depends(get_scorer)]


def requires(role: Role):
    """The dependency of a route that needs ``role``: authenticate, then authorize, in one
    dependency node (each node has a per-request cost in FastAPI). The role is kept on the
    callable, where the ``/predict`` fast lane reads it (``access.required_role``)."""

    async def key_with_role(
        request: Request, presented: Annotated[str | None, Depends(_api_key_header)]
    ) -> ApiKey:
        key = request.scope.get(SCOPE_KEY)  # authenticated by the gate (app/api/gate.py)
        if key is None:
            key = authenticate(request.app.state.key_store, presented)
        return authorize(key, role)

    setattr(key_with_role, ROLE_ATTRIBUTE, role)
    key_with_role.__name__ = f"requires_{role.name}"
    return key_with_role


# The hot-path dependencies read app.state directly instead of depending on get_settings:
# each dependency node has a per-request cost in FastAPI.
ViewerKey = Annotated[ApiKey, Depends(requires(Role.viewer))]
ReporterKey = Annotated[ApiKey, Depends(requires(Role.reporter))]
OperatorKey = Annotated[ApiKey, Depends(requires(Role.operator))]


def environment_pattern(tracks: tuple[str, ...]) -> str:
    """What ``access.resolve_environment`` accepts for ``tracks``, as a regular expression for
    the OpenAPI document (any case, blanks around): the function decides, the pattern only
    documents it (an unknown track is its 422 ``invalid_environment``; on a track alias route
    only the path's track is accepted, so only it is documented)."""
    either = "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in "|".join(tracks))
    return rf"^[ \t]*({either})[ \t]*$"


_ENVIRONMENT_HEADER_DESCRIPTION = (
    "Model track: staging or production, any case, blanks around ignored (default from settings)."
)


def track_of(path: Environment | None = None):
    """The dependency giving a request's model track (``access.resolve_environment``): from
    ``X-Environment`` (``path=None``), or the track a route's path names, with which a header
    present must agree. The ``/predict`` fast lane calls the same function with the same
    ``path`` (``routes/predict.py``'s ``PREDICT_PATHS``)."""
    description = (
        _ENVIRONMENT_HEADER_DESCRIPTION
        if path is None
        else f"Optional; when sent it must name this route's track ({path}), else 422 "
        "`environment_conflict`."
    )

    # a default-value parameter, not Annotated: the description is this closure's (string
    # annotations are resolved in the module's globals); "str", not "str | None", so the
    # document does not say null
    async def environment(
        request: Request,
        x_environment: str = Header(
            None,
            alias="X-Environment",
            description=description,
            json_schema_extra={  # documented, not enforced here
                "pattern": environment_pattern(ENVIRONMENTS if path is None else (path,))
            },
        ),
    ) -> Environment:
        value = resolve_environment(
            x_environment, request.app.state.settings.DEFAULT_ENVIRONMENT, path
        )
        request.scope["spam.environment"] = value
        return value

    return environment


environment = track_of()
EnvironmentDep = Annotated[Environment, Depends(environment)]
