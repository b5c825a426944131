"""``spam_core.fastlane``: the ASGI fast-lane pattern, driven with ASGI messages.

The services' own suites hold their lanes to their routes' answers (tests/gateway/api/
test_fastlane.py, tests/transformer); here: what the pattern itself promises — only its method
and paths, the body limit, referral with the body replayed, the disconnect, the error mapping.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from spam_core.fastlane import BodyTooLarge, FastLane, LaneRoute, Refer, send_json


class Echo(LaneRoute):
    """Answers ``{"got": payload}``; refers ``{"refer": true}``; raises on ``{"fail": …}``."""

    max_body_bytes = 64

    def __init__(self) -> None:
        self.admitted: list[Any] = []

    def admit(self, scope):
        return dict(scope["headers"]).get(b"x-lane") != b"no"

    def decode(self, scope, admitted, body):
        payload = super().decode(scope, admitted, body)
        if payload.get("refer"):
            raise Refer
        return payload

    async def handle(self, scope, receive, payload):
        if "fail" in payload:
            raise (KeyError if payload["fail"] == "unmapped" else ValueError)(payload["fail"])
        return {"got": payload}

    async def error(self, scope, receive, exc):
        if isinstance(exc, BodyTooLarge):
            status, content = 413, {"error": str(exc)}
        elif isinstance(exc, ValueError):
            status, content = 422, {"error": str(exc)}
        else:
            return None

        async def answer(scope, receive, send):
            await send_json(send, content, status)

        return answer


class App:
    """The framework's route stand-in: records what it read and answers 299."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.last: list[str] = []

    async def __call__(self, scope, receive, send):
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                self.last.append(message["type"])
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        self.bodies.append(b"".join(chunks))
        await send_json(send, {"route": True}, 299)


def call(lane, body_chunks, *, method="POST", path="/lane", headers=(), length=True, left=False):
    """One request through ``lane``: ``(status, JSON body)`` of its answer. ``left``: the
    client disconnects after the chunks instead of ending the body."""
    messages: list[dict] = [
        {"type": "http.request", "body": c, "more_body": left or i < len(body_chunks) - 1}
        for i, c in enumerate(body_chunks)
    ]
    sent: list[dict] = []
    total = sum(len(c) for c in body_chunks)
    hdrs = [*headers, *([(b"content-length", str(total).encode())] if length else [])]
    scope = {"type": "http", "method": method, "path": path, "headers": hdrs}

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(lane(scope, receive, send))
    start, body = sent
    return start["status"], orjson.loads(body["body"])


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def lane(app) -> FastLane:
    return FastLane(app, routes={"/lane": Echo()})


def test_the_lane_answers_its_method_and_path(lane, app):
    assert call(lane, [b'{"a": 1}']) == (200, {"got": {"a": 1}})
    assert call(lane, [b'{"a":', b" 2}"], length=False) == (200, {"got": {"a": 2}})
    assert call(lane, [b"{}"], method="PUT") == (299, {"route": True})
    assert call(lane, [b"{}"], path="/other") == (299, {"route": True})
    assert call(lane, [b"{}"], headers=[(b"x-lane", b"no")]) == (299, {"route": True})
    assert app.bodies == [b"{}"] * 3  # untouched: the route read the body itself


def test_a_referred_request_reaches_the_route_with_its_body(lane, app):
    assert call(lane, [b'{"refer"', b": true}"]) == (299, {"route": True})
    assert app.bodies == [b'{"refer": true}']


def test_the_body_limit_declared_or_counted(lane, app):
    status, doc = call(lane, [b"x" * 65])
    assert (status, doc["error"]) == (413, "request body is 65 bytes, the limit is 64")
    status, doc = call(lane, [b"x" * 40, b"x" * 40], length=False)
    assert (status, doc["error"]) == (413, "request body exceeds 64 bytes")
    assert app.bodies == []


def test_a_client_that_leaves_is_handed_to_the_route(lane, app):
    call(lane, [b'{"a"', b": 1"], length=False, left=True)
    assert app.bodies == [b'{"a": 1'] and app.last == ["http.disconnect"]


def test_errors_go_to_the_route_mapping_or_propagate(lane):
    assert call(lane, [b'{"fail": "bad"}']) == (422, {"error": "bad"})
    with pytest.raises(KeyError):
        call(lane, [b'{"fail": "unmapped"}'])
