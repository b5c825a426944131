"""POST /predict/staging and /predict/production: ``/predict`` with the track in the path.

Same role, limits, answers and logging as ``/predict`` with ``X-Environment``; a header naming
the other track is 422 in the envelope. Both doors are checked: the fast lane (valid requests)
and the FastAPI route (a dependency override turns the lane off), so they cannot diverge.
"""

from __future__ import annotations

import re

import httpx
import pytest

from spam_gateway.app.api.deps import get_scorer
from spam_gateway.app.api.fastlane import PredictFastLane
from spam_gateway.app.api.routes.predict import PREDICT_PATHS
from tests.utils.gateway import MAX_BODY_BYTES, VIEWER

pytestmark = pytest.mark.timeout(120)

EMAIL = {
    "email_id": "path-1",
    "subject": "CONGRATULATIONS!!! You WON $1,000,000",
    "body": "Claim your prize NOW at http://192.168.10.1/claim and send your bank details.",
    "sender": "Lottery Board <winner83721@freemail.example>",
}
VERSIONS = {"staging": "2", "production": "1"}


def post(gateway, path: str, body=EMAIL, **headers: str) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, headers={**VIEWER, **headers}, timeout=30)


@pytest.fixture(params=["lane", "route"])
def door(request, gateway):
    """``lane``: as deployed; ``route``: the fast lane steps aside (a dependency override)."""
    if request.param == "route":
        app = gateway.app
        app.dependency_overrides[get_scorer] = lambda: app.state.scorer
        yield request.param
        app.dependency_overrides.pop(get_scorer)
    else:
        yield request.param


def test_the_table_names_both_tracks() -> None:
    assert PREDICT_PATHS == {
        "/predict": None,
        "/predict/staging": "staging",
        "/predict/production": "production",
    }


@pytest.mark.parametrize("track", ["staging", "production"])
@pytest.mark.parametrize("header", [None, "same", "SAME IN CAPITALS"])
def test_the_path_picks_the_track(gateway, door, track, header) -> None:
    headers = {}
    if header == "same":
        headers["X-Environment"] = track
    elif header:
        headers["X-Environment"] = track.upper()
    r = post(gateway, f"/predict/{track}", **headers)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert (doc["environment"], doc["model_version"]) == (track, VERSIONS[track])
    via_header = post(gateway, "/predict", **{"X-Environment": track}).json()
    assert doc["spam_probability"] == pytest.approx(via_header["spam_probability"], abs=1e-9)
    assert set(doc) == set(via_header)


@pytest.mark.parametrize(("track", "other"), [("staging", "production"), ("production", "staging")])
def test_a_conflicting_header_is_422_in_the_envelope(gateway, door, track, other) -> None:
    r = post(gateway, f"/predict/{track}", **{"X-Environment": other})
    assert r.status_code == 422, r.text
    doc = r.json()
    assert doc["error"]["code"] == "environment_conflict"
    assert doc["error"]["details"] == {"path": track, "header": other}
    assert doc["correlation_id"] == r.headers["x-correlation-id"]


def test_an_unknown_header_is_the_usual_422(gateway, door) -> None:
    r = post(gateway, "/predict/staging", **{"X-Environment": "canary"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_environment"


def test_same_auth_and_limits(gateway) -> None:
    r = httpx.post(gateway.url + "/predict/production", json=EMAIL, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    r = httpx.post(
        gateway.url + "/predict/production",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={**VIEWER, "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 413
    r = post(gateway, "/predict/staging", {"email_id": "no-body"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


def test_the_fast_lane_serves_the_aliases(gateway, monkeypatch) -> None:
    seen: list[tuple[str | None, bool]] = []
    accept = PredictFastLane._accept

    def spy(state, role, key, environment, body, path_track=None):
        out = accept(state, role, key, environment, body, path_track)
        seen.append((path_track, out is not None))
        return out

    monkeypatch.setattr(PredictFastLane, "_accept", staticmethod(spy))
    assert post(gateway, "/predict/production").status_code == 200
    assert post(gateway, "/predict/staging", **{"X-Environment": "production"}).status_code == 422
    assert seen == [("production", True), ("staging", False)]


def test_metrics_and_inference_log_name_the_route(gateway) -> None:
    post(
        gateway,
        "/predict/production",
        {**EMAIL, "email_id": "path-log"},
        **{"X-Correlation-ID": "path-log"},
    )
    metrics = httpx.get(gateway.url + "/metrics", timeout=10).text
    assert 'route="/predict/production"' in metrics
    import pyarrow.dataset as ds

    from tests.utils.gateway import OPERATOR

    httpx.post(gateway.url + "/admin/inference-log/flush", headers=OPERATOR, timeout=30)
    table = ds.dataset(gateway.settings.INFERENCE_LOG_URL, partitioning="hive").to_table(
        filter=ds.field("correlation_id") == "path-log"
    )
    assert table.column("route").to_pylist() == ["predict"]
    assert table.column("environment").to_pylist() == ["production"]


def test_openapi_documents_the_aliases(gateway) -> None:
    spec = httpx.get(gateway.url + "/openapi.json", timeout=10).json()
    for track in ("staging", "production"):
        op = spec["paths"][f"/predict/{track}"]["post"]
        assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PredictionOut"
        }
        assert {"401", "422", "503"} <= set(op["responses"])
        assert op["security"] == [{"APIKeyHeader": []}]
        (header,) = [p for p in op["parameters"] if p["name"] == "X-Environment"]
        assert track in header["description"] and not header["required"]
        # only the path's track is a valid header value here (what a client may send)
        other = "staging" if track == "production" else "production"
        assert re.match(header["schema"]["pattern"], track.upper())
        assert not re.match(header["schema"]["pattern"], other)
