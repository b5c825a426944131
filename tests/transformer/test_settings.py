"""Settings (and their agreement with the Helm chart), artifact loading, the entry point's exits.

No Triton here: these run in well under a second once the session's bundles exist.
"""

from __future__ import annotations

import functools
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import ValidationError

from spam_core.bundle import BundleMeta, write_meta
from spam_core.errors import ArtifactError
from spam_transformer.__main__ import main
from spam_transformer.artifacts import load_track_artifacts, sibling_uri
from spam_transformer.config import TransformerSettings
from spam_transformer.errors import (
    InvalidInput,
    PayloadTooLarge,
    PredictorError,
    PredictorTimeout,
    PredictorUnavailable,
    UnknownEnvironment,
)
from spam_transformer.protocol.rest.server import status_for
from tests.utils.paths import REPO

CHART = REPO / "charts" / "spam-platform" / "charts" / "transformer"
REQUIRED = {
    "FEATURES_URI_STAGING": "/models/staging/features.json",
    "FEATURES_URI_PRODUCTION": "/models/production/features.json",
    "FEAST_REPO_PATH": "/feast",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    import os

    for key in list(os.environ):
        if key.startswith("SPAM_TRANSFORMER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_the_chart_sets_only_settings_the_transformer_reads() -> None:
    template = (CHART / "templates" / "configmap.yaml").read_text()
    keys = re.findall(r"^\s+SPAM_TRANSFORMER_([A-Z0-9_]+):", template, re.MULTILINE)
    assert {"PREDICTOR_STAGING_URL", "PROTOCOL", "FEATURES_URI_PRODUCTION"} <= set(keys)
    unknown = set(keys) - set(TransformerSettings.model_fields)
    assert not unknown, f"the chart sets SPAM_TRANSFORMER_{sorted(unknown)} nobody reads"
    documented = re.findall(r"SPAM_TRANSFORMER_([A-Z0-9_]+)", (CHART / "values.yaml").read_text())
    assert set(documented) <= set(TransformerSettings.model_fields)


def test_defaults_and_environment(clean_env: pytest.MonkeyPatch) -> None:
    for key, value in REQUIRED.items():
        clean_env.setenv(f"SPAM_TRANSFORMER_{key}", value)
    clean_env.setenv("SPAM_TRANSFORMER_PREDICTOR_PRODUCTION_URL", "prod-predictor.ns.svc:9000")
    clean_env.setenv("SPAM_TRANSFORMER_MODEL_VERSION_PRODUCTION", "7")
    settings = TransformerSettings()
    assert (settings.PORT, settings.MAX_BATCH, settings.PROTOCOL, settings.WORKERS) == (
        8080,
        100,
        "grpc",
        1,
    )
    production = settings.track("production")
    assert production.predictor_url == "prod-predictor.ns.svc:9000"
    assert production.triton_model == "spam-detector"
    assert production.model_version == "7"
    assert settings.track("staging").model_version is None
    assert [t.environment for t in settings.tracks()] == ["staging", "production"]
    assert settings.FEAST_REPO_PATH == "/feast"
    assert (
        settings.REPUTATION_CACHE_TTL_S,
        settings.REPUTATION_CACHE_SIZE,
        settings.REPUTATION_RETRY_AFTER_S,
    ) == (60.0, 100_000, 5.0)


def test_the_benchmark_peer_uses_the_transformers_reputation_defaults() -> None:
    """The KServe peer (tests/benchmarks/kserve_peer.py) does the same reputation lookups: same
    cache and retry settings as a transformer left at its defaults."""
    from tests.benchmarks.reputation_cost import REPUTATION_DEFAULTS

    fields = TransformerSettings.model_fields
    transformer = {
        "cache_ttl_s": fields["REPUTATION_CACHE_TTL_S"].default,
        "cache_size": fields["REPUTATION_CACHE_SIZE"].default,
        "retry_after_s": fields["REPUTATION_RETRY_AFTER_S"].default,
    }
    assert transformer == REPUTATION_DEFAULTS


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REPUTATION_CACHE_TTL_S", -1),
        ("REPUTATION_CACHE_SIZE", 0),
        ("REPUTATION_RETRY_AFTER_S", 0),
    ],
)
def test_reputation_settings_are_bounded(
    clean_env: pytest.MonkeyPatch, name: str, value: float
) -> None:
    with pytest.raises(ValidationError, match=name):
        TransformerSettings(**REQUIRED, **{name: value})


@pytest.mark.parametrize("url", ["http://triton:8000", "triton", "triton:port", ":8001"])
def test_predictor_urls_are_host_port(clean_env: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(ValidationError, match="PREDICTOR_STAGING_URL"):
        TransformerSettings(**REQUIRED, PREDICTOR_STAGING_URL=url)


def test_features_uris_and_the_feast_repo_are_required(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValidationError):
        TransformerSettings()
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "SPAM_TRANSFORMER_FEATURES_URI_STAGING" in err
    assert "SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION" in err
    assert "SPAM_TRANSFORMER_FEAST_REPO_PATH" in err


def test_error_status_table() -> None:
    assert status_for(InvalidInput("x")) == 422
    assert status_for(UnknownEnvironment("x")) == 422
    assert status_for(PayloadTooLarge("x")) == 413
    assert status_for(PredictorUnavailable("x")) == 503
    assert status_for(PredictorTimeout("x")) == 503
    assert status_for(PredictorError("x")) == 502


# --------------------------------------------------------------------------- artifacts


def test_sibling_uri_keeps_the_folder_and_query() -> None:
    sas = "https://acct.blob.core.windows.net/models/spam-detector/v2/features.json?sv=1&sig=x"
    assert sibling_uri(sas, "bundle.json") == (
        "https://acct.blob.core.windows.net/models/spam-detector/v2/bundle.json?sv=1&sig=x"
    )
    assert sibling_uri("/m/v1/features.json", "bundle.json") == "/m/v1/bundle.json"
    assert sibling_uri("file:///m/v1/features.json", "bundle.json") == "/m/v1/bundle.json"


def test_load_pairs_features_with_their_bundle(model_bundles: dict[str, Path]) -> None:
    loaded = load_track_artifacts(str(model_bundles["staging"] / "features.json"))
    assert loaded.meta.model_version == "2"
    assert loaded.meta.threshold == pytest.approx(0.4)
    assert loaded.features.fingerprint == loaded.meta.features_fingerprint


def test_mismatched_or_missing_artifacts_are_refused(
    model_bundles: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_bundles["staging"], broken)
    meta = BundleMeta.model_validate_json((broken / "bundle.json").read_text())
    write_meta(broken, meta.model_copy(update={"features_fingerprint": "0" * 64}))
    with pytest.raises(ArtifactError, match="does not belong"):
        load_track_artifacts(str(broken / "features.json"))
    write_meta(broken, meta.model_copy(update={"n_features": 524}))  # before the reputation
    with pytest.raises(ArtifactError, match="takes 524 features"):
        load_track_artifacts(str(broken / "features.json"))
    (broken / "bundle.json").unlink()
    with pytest.raises(ArtifactError, match="not found"):
        load_track_artifacts(str(broken / "features.json"))
    with pytest.raises(ArtifactError, match="not found"):
        load_track_artifacts(str(tmp_path / "absent" / "features.json"))


def test_artifacts_over_https_style_urls(model_bundles: dict[str, Path]) -> None:
    handler = functools.partial(
        SimpleHTTPRequestHandler, directory=str(model_bundles["production"])
    )
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        loaded = load_track_artifacts(f"{base}/features.json")
        assert loaded.meta.model_version == "1"
        assert loaded.meta_uri == f"{base}/bundle.json"
        with pytest.raises(ArtifactError, match="not found"):
            load_track_artifacts(f"{base}/v9/features.json")
    finally:
        server.shutdown()
        server.server_close()


def test_check_flag_loads_both_tracks(
    clean_env: pytest.MonkeyPatch,
    model_bundles: dict[str, Path],
    feast_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for track, path in model_bundles.items():
        clean_env.setenv(
            f"SPAM_TRANSFORMER_FEATURES_URI_{track.upper()}", str(path / "features.json")
        )
    clean_env.setenv("SPAM_TRANSFORMER_FEAST_REPO_PATH", str(feast_repo))
    assert main(["--check"]) == 0
    # a directory that is no Feast repository stops the transformer before it listens
    clean_env.setenv("SPAM_TRANSFORMER_FEAST_REPO_PATH", str(tmp_path / "no-repo"))
    capsys.readouterr()
    assert main(["--check"]) == 2
    assert "feature_store.yaml" in capsys.readouterr().err
    clean_env.setenv("SPAM_TRANSFORMER_FEAST_REPO_PATH", str(feast_repo))
    clean_env.setenv("SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION", str(tmp_path / "features.json"))
    assert main(["--check"]) == 2
