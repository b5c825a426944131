"""GET /models and GET /info (role viewer) on the real gateway → transformer → Triton chain.

The session's bundles give staging version "2" (threshold 0.4) and production "1" (threshold
0.5): /models must report what the transformer really loaded, track by track.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from spam_core.features.spec import FEATURE_SET_VERSION
from spam_gateway import API_VERSION, __version__
from tests.utils.gateway import MAX_BODY_BYTES, OPERATOR, VIEWER
from tests.utils.serving import PLANS, TRITON_MODELS

pytestmark = pytest.mark.timeout(120)


def get(gateway, path: str, headers=VIEWER) -> httpx.Response:
    return httpx.get(gateway.url + path, headers=headers, timeout=30)


def test_models_reports_each_track_as_the_transformer_loaded_it(gateway, model_bundles) -> None:
    r = get(gateway, "/models")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["default_environment"] == "staging"
    tracks = {m["environment"]: m for m in doc["models"]}
    assert list(tracks) == ["staging", "production"]
    now = datetime.now(UTC)
    for track, model in tracks.items():
        bundle = json.loads((model_bundles[track] / "bundle.json").read_text())
        assert model["model_name"] == "spam-detector"
        assert model["model_version"] == PLANS[track].version
        assert model["threshold"] == PLANS[track].threshold
        assert model["feature_set"] == FEATURE_SET_VERSION == bundle["feature_set"]
        assert datetime.fromisoformat(model["trained_at"]) == datetime.fromisoformat(
            bundle["created_at"]
        )
        deployed = datetime.fromisoformat(model["deployed_at"])
        assert datetime.fromisoformat(model["trained_at"]) <= deployed <= now
        assert model["triton_model"] == TRITON_MODELS[track]
        assert model["ready"] is True and model["detail"] == "ready"


def test_models_without_a_transformer_says_not_ready(down_gateway) -> None:
    r = get(down_gateway, "/models")
    assert r.status_code == 200, r.text
    for model in r.json()["models"]:
        assert model["ready"] is False
        assert model["model_name"] == "spam-detector"  # from the gateway's settings
        assert model["threshold"] is None and model["deployed_at"] is None
        assert "did not report" in model["detail"]


def test_info_states_versions_and_limits(gateway) -> None:
    r = get(gateway, "/info")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["version"] == __version__ and doc["api_version"] == API_VERSION
    assert doc["tracks"] == ["staging", "production"]
    limits = doc["limits"]
    assert limits["batch_sync_max_emails"] == gateway.settings.MAX_BATCH_SIZE == 100
    assert limits["max_body_bytes"] == MAX_BODY_BYTES
    assert limits["body_timeout_s"] == gateway.settings.BODY_TIMEOUT_S
    assert limits["rate_limits"] == {
        "auth_failures_per_client": "20/minute",
        "quota_viewer": None,
        "quota_operator": None,
    }
    assert get(gateway, doc["openapi_url"]).status_code == 200


def test_info_follows_the_settings(make_gateway, transformer) -> None:
    other = make_gateway(
        TRANSFORMER_URL=transformer.url,
        MAX_BATCH_SIZE=20,
        QUOTA_VIEWER="600/minute",
        AUTH_FAILURES_PER_CLIENT="",
        DEFAULT_ENVIRONMENT="production",
    )
    doc = get(other, "/info").json()
    assert doc["limits"]["batch_sync_max_emails"] == 20
    assert doc["limits"]["rate_limits"]["quota_viewer"] == "600/minute"
    assert doc["limits"]["rate_limits"]["auth_failures_per_client"] is None
    assert doc["default_environment"] == "production"
    assert get(other, "/models").json()["default_environment"] == "production"


@pytest.mark.parametrize("path", ["/models", "/info"])
def test_viewer_and_operator_may_read_without_a_key_401(gateway, path) -> None:
    assert get(gateway, path, OPERATOR).status_code == 200
    r = get(gateway, path, {})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_openapi_documents_models_and_info(gateway) -> None:
    spec = get(gateway, "/openapi.json", {}).json()
    for path, model in (("/models", "ModelsOut"), ("/info", "InfoOut")):
        op = spec["paths"][path]["get"]
        assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{model}"
        }
        assert op["security"] == [{"APIKeyHeader": []}]
