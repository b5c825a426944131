"""Settings: the names the Helm chart renders are the names the gateway reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from spam_gateway.app.core.config import Settings
from tests.utils.gateway import API_KEYS_JSON


def test_api_keys_are_required() -> None:
    with pytest.raises(ValidationError, match="API keys are required"):
        Settings(_env_file=None)


def test_defaults_suit_a_laptop() -> None:
    s = Settings(_env_file=None, API_KEYS=API_KEYS_JSON)
    assert (s.PORT, s.HOST, s.WORKERS) == (8080, "127.0.0.1", 1)
    assert s.DEFAULT_ENVIRONMENT == "staging"
    assert s.MAX_BATCH_SIZE == 100
    assert s.BATCH_BACKEND == "none"


def test_secrets_stay_out_of_the_public_view() -> None:
    s = Settings(
        _env_file=None, API_KEYS=API_KEYS_JSON, INFERENCE_LOG_CONNECTION_STRING="AccountKey=x"
    )
    public = s.public()
    assert "API_KEYS" not in public and "INFERENCE_LOG_CONNECTION_STRING" not in public
    assert "AccountKey" not in str(public) and "sha256" not in str(public)


def test_every_variable_the_chart_renders_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render the chart's gateway ConfigMap and load Settings from exactly that environment."""
    chartlib = pytest.importorskip("tests.charts.chartlib")
    docs = chartlib.render_docs(chartlib.minimal_values())
    data = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"]
    fields = set(Settings.model_fields)
    for name in data:
        if name.startswith("SPAM_GATEWAY_"):
            assert name.removeprefix("SPAM_GATEWAY_") in fields, name
        else:
            assert name == "AZURE_STORAGE_ACCOUNT_NAME"
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SPAM_GATEWAY_API_KEYS", API_KEYS_JSON)  # the Secret's file, inline
    monkeypatch.delenv("SPAM_GATEWAY_API_KEYS_FILE")
    s = Settings(_env_file=None)
    assert data["SPAM_GATEWAY_TRANSFORMER_URL"] == s.TRANSFORMER_URL
    assert data["SPAM_GATEWAY_DEFAULT_ENVIRONMENT"] == s.DEFAULT_ENVIRONMENT
    assert data["SPAM_GATEWAY_MODEL_VERSION_STAGING"] == s.MODEL_VERSION_STAGING
    assert data["SPAM_GATEWAY_MODEL_VERSION_PRODUCTION"] == s.MODEL_VERSION_PRODUCTION
    assert data["SPAM_GATEWAY_INFERENCE_LOG_URL"] == s.INFERENCE_LOG_URL
    assert data["SPAM_GATEWAY_BATCH_BACKEND"] == s.BATCH_BACKEND
    assert data["AZURE_STORAGE_ACCOUNT_NAME"] == s.AZURE_STORAGE_ACCOUNT_NAME


def test_cors_is_off_by_default() -> None:
    s = Settings(_env_file=None, API_KEYS=API_KEYS_JSON)
    assert (s.CORS_ALLOW_ORIGINS, s.CORS_ALLOW_CREDENTIALS) == ([], False)


def test_cors_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SPAM_GATEWAY_CORS_ALLOW_ORIGINS", '["https://mail.example.com", "http://127.0.0.1:3000"]'
    )
    monkeypatch.setenv("SPAM_GATEWAY_CORS_ALLOW_CREDENTIALS", "true")
    s = Settings(_env_file=None, API_KEYS=API_KEYS_JSON)
    assert s.CORS_ALLOW_ORIGINS == ["https://mail.example.com", "http://127.0.0.1:3000"]
    assert s.CORS_ALLOW_CREDENTIALS is True
    monkeypatch.delenv("SPAM_GATEWAY_CORS_ALLOW_CREDENTIALS")
    wildcard = Settings(_env_file=None, API_KEYS=API_KEYS_JSON, CORS_ALLOW_ORIGINS=["*"])
    assert wildcard.CORS_ALLOW_ORIGINS == ["*"]


@pytest.mark.parametrize(
    ("origins", "credentials", "message"),
    [
        (["*"], True, "any web site"),
        (["*", "https://a.example"], False, "give it alone"),
        (["https://a.example/"], False, "not an origin"),
        (["https://a.example/app"], False, "not an origin"),
        (["a.example"], False, "not an origin"),
        (["ftp://a.example"], False, "not an origin"),
    ],
)
def test_bad_cors_settings_are_refused(origins, credentials, message) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(
            _env_file=None,
            API_KEYS=API_KEYS_JSON,
            CORS_ALLOW_ORIGINS=origins,
            CORS_ALLOW_CREDENTIALS=credentials,
        )
