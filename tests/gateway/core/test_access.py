"""The access rules (app/core/access.py) that the route dependencies and the /predict fast
lane share: one rule per decision, and a role declared on a route reaches the fast lane."""

from __future__ import annotations

import json
import typing
from types import SimpleNamespace

import orjson
import pytest
from fastapi import APIRouter

from spam_gateway.app.api.deps import OperatorKey, ViewerKey
from spam_gateway.app.api.fastlane import PredictFastLane
from spam_gateway.app.api.routes import predict
from spam_gateway.app.core.access import (
    authenticate,
    authorize,
    required_role,
    resolve_environment,
)
from spam_gateway.app.core.errors import (
    EnvironmentConflict,
    Forbidden,
    InvalidEnvironment,
    Unauthenticated,
)
from spam_gateway.app.core.security import ApiKeyStore, Role, hash_key

VIEWER, OPERATOR = "spk_access_viewer", "spk_access_operator"
STORE = ApiKeyStore(
    inline=json.dumps(
        [
            {"name": "v", "sha256": hash_key(VIEWER), "role": "viewer"},
            {"name": "o", "sha256": hash_key(OPERATOR), "role": "operator"},
        ]
    )
)
BODY = orjson.dumps({"email_id": "a1", "subject": "hi", "body": "see you", "sender": "a@b.example"})


def test_authenticate():
    assert authenticate(STORE, VIEWER).role is Role.viewer
    with pytest.raises(Unauthenticated, match="missing"):
        authenticate(STORE, None)
    with pytest.raises(Unauthenticated, match="unknown"):
        authenticate(STORE, "spk_nobody")


def test_authorize():
    assert authorize(authenticate(STORE, OPERATOR), Role.viewer).name == "o"
    with pytest.raises(Forbidden, match="operator role") as caught:
        authorize(authenticate(STORE, VIEWER), Role.operator)
    assert caught.value.details == {"key": "v", "role": "viewer", "required": "operator"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, "staging"), (" Production ", "production"), ("STAGING", "staging")],
)
def test_resolve_environment(header, expected):
    assert resolve_environment(header, "staging") == expected


def test_unknown_environment():
    with pytest.raises(InvalidEnvironment, match="unknown X-Environment"):
        resolve_environment("canary", "staging")


@pytest.mark.parametrize(
    ("header", "path", "expected"),
    [(None, "production", "production"), (" PRODUCTION", "production", "production"),
     ("staging", "staging", "staging")],
)  # fmt: skip
def test_the_path_names_the_track(header, path, expected):
    assert resolve_environment(header, "staging", path) == expected


def test_a_header_against_the_path_conflicts():
    with pytest.raises(EnvironmentConflict, match="conflicts") as caught:
        resolve_environment("staging", "staging", "production")
    assert caught.value.details == {"path": "production", "header": "staging"}
    assert isinstance(caught.value, InvalidEnvironment)  # 422, like any bad track
    with pytest.raises(InvalidEnvironment, match="unknown X-Environment"):
        resolve_environment("canary", "staging", "production")


def _route(key_alias):
    """A route whose one dependency is ``key_alias`` (``ViewerKey`` or ``OperatorKey``)."""
    router = APIRouter()
    depends = typing.get_args(key_alias)[1]

    @router.post("/predict")
    async def handler(_key=depends) -> None:
        return None

    return router.routes[0]


def test_routes_declare_their_role():
    (route,) = [r for r in predict.router.routes if r.path == "/predict"]
    assert required_role(route) is Role.viewer
    assert required_role(_route(ViewerKey)) is Role.viewer
    assert required_role(_route(OperatorKey)) is Role.operator


def test_the_fast_lane_applies_the_role_the_route_declares():
    settings = SimpleNamespace(DEFAULT_ENVIRONMENT="staging")
    state = SimpleNamespace(key_store=STORE, settings=settings)
    role = required_role(_route(OperatorKey))
    accept = PredictFastLane._accept
    assert accept(state, role, VIEWER.encode(), None, BODY) is None  # the route answers 403
    track, email = accept(state, role, OPERATOR.encode(), b"production", BODY)
    assert (track, email.email_id) == ("production", "a1")
    viewer_role = required_role(_route(ViewerKey))
    assert accept(state, viewer_role, VIEWER.encode(), None, BODY)[0] == "staging"
    assert accept(state, viewer_role, None, None, BODY) is None  # 401 from the route
    assert accept(state, viewer_role, VIEWER.encode(), b"canary", BODY) is None  # 422
    # the track aliases: the path's track, a header that agrees, one that does not (422)
    assert accept(state, viewer_role, VIEWER.encode(), None, BODY, "production")[0] == "production"
    assert accept(state, viewer_role, VIEWER.encode(), b"staging", BODY, "staging")[0] == "staging"
    assert accept(state, viewer_role, VIEWER.encode(), b"staging", BODY, "production") is None
