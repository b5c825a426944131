"""``POST /predict`` through the fast lane (app/api/fastlane.py) answers as the FastAPI route.

The lane is taken by valid requests (known key, valid or absent ``X-Environment``, JSON body
with a ``Content-Length`` that validates); everything else goes to the route, whose answers the
error tests (test_errors.py, test_auth.py) hold. Here: the lane is really taken, and with it
bypassed (a dependency override is set) the same request gets the same answer.
"""

from __future__ import annotations

import httpx
import pytest

from spam_gateway.app.api.deps import get_scorer
from spam_gateway.app.api.fastlane import PredictFastLane
from tests.utils.gateway import VIEWER

pytestmark = pytest.mark.timeout(120)

EMAIL = {
    "email_id": "fast-1",
    "subject": "Quarterly report",
    "body": "Hi, the quarterly numbers are attached. See http://intranet.example/q3 . Ann",
    "sender": "Ann Lee <ann.lee@example.org>",
}


@pytest.fixture
def lane_calls(monkeypatch) -> list[bool]:
    """Whether each request the lane looked at was accepted (served by the lane)."""
    calls: list[bool] = []
    accept = PredictFastLane._accept

    def spy(state, role, key, environment, body, path_track=None):
        out = accept(state, role, key, environment, body, path_track)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(PredictFastLane, "_accept", staticmethod(spy))
    return calls


def requests_counted(gateway, status: str) -> float:
    metric = gateway.app.state.metrics.requests
    return sum(
        s.value
        for s in metric.collect()[0].samples
        if s.name.endswith("_total")
        and s.labels["route"] == "/predict"
        and s.labels["status"] == status
        and s.labels["environment"] == "production"
    )


def without_latency(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "latency_ms"}


def test_the_lane_answers_as_the_route(gateway, lane_calls) -> None:
    headers = {**VIEWER, "X-Environment": "PRODUCTION", "X-Correlation-ID": "lane-1"}
    before = requests_counted(gateway, "200")
    fast = httpx.post(gateway.url + "/predict", json=EMAIL, headers=headers, timeout=60)
    assert lane_calls == [True]

    overrides = gateway.app.dependency_overrides
    overrides[get_scorer] = get_scorer  # the same dependency: only the lane steps aside
    try:
        headers["X-Correlation-ID"] = "lane-2"
        slow = httpx.post(gateway.url + "/predict", json=EMAIL, headers=headers, timeout=60)
    finally:
        overrides.pop(get_scorer)
    assert lane_calls == [True]  # not consulted with overrides set

    assert fast.status_code == slow.status_code == 200, (fast.text, slow.text)
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert (fast.headers["x-correlation-id"], slow.headers["x-correlation-id"]) == (
        "lane-1",
        "lane-2",
    )
    assert without_latency(fast.json()) == without_latency(slow.json())
    assert fast.json()["environment"] == "production"
    assert requests_counted(gateway, "200") - before == 2  # same route label either way


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"X-API-Key": "unknown"}, EMAIL, 401),
        ({**VIEWER, "X-Environment": "qa"}, EMAIL, 422),
        (VIEWER, {"email_id": "x"}, 422),
        ({**VIEWER, "Content-Type": "text/plain"}, EMAIL, None),
    ],
    ids=["unknown key", "bad environment", "invalid body", "not JSON content type"],
)
def test_what_the_lane_refuses_goes_to_the_route(gateway, lane_calls, headers, body, status):
    import orjson

    content = orjson.dumps(body)
    sent = {"Content-Type": "application/json", **headers}
    r = httpx.post(gateway.url + "/predict", content=content, headers=sent, timeout=60)
    if status is not None:
        assert r.status_code == status, r.text
        assert set(r.json()) == {"error", "correlation_id", "timestamp"}
        # an unknown key is answered by the access gate (app/api/gate.py), before the lane
        assert lane_calls == ([] if status == 401 else [False])
    else:  # the route decides (FastAPI reads a non-JSON content type as no JSON body)
        assert lane_calls == []
        assert r.status_code in (200, 422)
