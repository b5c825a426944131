"""The Postman collection (``ci/postman/``) run with newman against the real gateway →
transformer → Triton chain on free ports: with each environment file (staging, production),
once with a viewer key and once with an operator key, every request answering and every test in
the collection passing. And the collection covers every operation of the OpenAPI document, so
a route added without a request in the collection fails here."""

from __future__ import annotations

import httpx
import pytest

from tests.utils.gateway import OPERATOR_KEY, VIEWER_KEY
from tests.utils.postman import (
    assert_passed,
    covers,
    load_collection,
    newman_or_skip,
    operations,
    requests,
    run_collection,
)

pytestmark = pytest.mark.timeout(600)


@pytest.mark.parametrize(
    ("environment", "key"),
    [("staging", VIEWER_KEY), ("production", OPERATOR_KEY)],
    ids=["staging-viewer", "production-operator"],
)
def test_the_collection_passes_against_the_real_gateway(gateway, tmp_path, environment, key):
    newman_or_skip()
    assert_passed(run_collection(gateway.url, key, environment, tmp_path))


def test_a_failing_check_fails_the_run(make_gateway, transformer, tmp_path):
    """The harness sees a failure: a wrong key makes every keyed request answer 401 (on a
    gateway of its own without the failed-authentication throttle, which these 401s would
    otherwise set off for every later test of this client address)."""
    newman_or_skip()
    unthrottled = make_gateway(TRANSFORMER_URL=transformer.url, AUTH_FAILURES_PER_CLIENT="off")
    result = run_collection(unthrottled.url, "spk_not_a_key", "staging", tmp_path)
    assert result["_exit_code"] != 0
    assert result["run"]["stats"]["assertions"]["failed"] > 10


def test_the_collection_covers_every_operation(gateway):
    spec = httpx.get(gateway.url + "/openapi.json", timeout=10).json()
    found = operations()
    missing = [
        f"{method.upper()} {path}"
        for path, ops in spec["paths"].items()
        for method in ops
        if not covers(found, method.upper(), path)
    ]
    assert missing == []


def test_every_request_has_tests_and_the_environments_their_variables():
    import json

    from tests.utils.postman import ENVIRONMENTS

    for item in requests():
        (tests,) = [e for e in item["event"] if e["listen"] == "test"]
        assert any("pm.test(" in line for line in tests["script"]["exec"]), item["name"]
    for track, path in ENVIRONMENTS.items():
        values = {v["key"]: v for v in json.loads(path.read_text())["values"]}
        assert set(values) == {"baseUrl", "apiKey", "track"}
        assert values["track"]["value"] == track
        assert values["apiKey"] == {**values["apiKey"], "type": "secret", "value": ""}
    assert load_collection()["auth"]["type"] == "apikey"
