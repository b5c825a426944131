"""`spam-platform publish`, `promote` and `rollback` against a real MLflow registry (SQLite),
publishing to a local directory and to a real Azurite (Blob) where the chart's
InferenceServices and transformers read (the layout rendered from the chart itself)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spam_trainer.cli import app
from tests.utils.gateway import AZURITE_BIN, Azurite
from tests.utils.registry import MODEL, make_registry

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def registry(tmp_path, monkeypatch, fitted) -> str:
    """Versions 1-3 registered (gates passed); SPAM_HOME and the tracking URI under tmp_path."""
    from spam_core.settings import get_settings
    from spam_trainer.settings import get_trainer_settings

    monkeypatch.setenv("SPAM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SPAM_PUBLISH_URL", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("GITHUB_ACTOR", "release-bot")
    uri = make_registry(tmp_path, fitted)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()
    yield uri
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()


@pytest.fixture
def azurite(tmp_path: Path):
    if not AZURITE_BIN.is_file():
        pytest.skip(f"azurite-blob not installed at {AZURITE_BIN} (ci/scripts/install-tools.sh)")
    server = Azurite(tmp_path / "azurite", tmp_path / "azurite.log").start()
    yield server
    server.stop()


def cli(*args: str, env: dict[str, str] | None = None):
    from spam_trainer.settings import get_trainer_settings

    get_trainer_settings.cache_clear()
    return CliRunner().invoke(app, ["--quiet", *args], env=env)


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --------------------------------------------------------------------------- publish
def test_publish_writes_the_layout_the_chart_reads_with_a_manifest(registry, tmp_path):
    from spam_core.bundle import ModelBundle
    from spam_trainer.triton import validate_model_repository

    out = tmp_path / "models"
    r = cli("publish", "--version", "2", "--to", str(out))
    assert r.exit_code == 0, r.output
    version_dir = out / MODEL / "v2"
    assert f"storageUri: {out}/{MODEL}/v2/triton" in r.output
    assert validate_model_repository(version_dir / "triton", model_name=MODEL) == []
    assert (version_dir / "features.json").is_file()
    bundle = ModelBundle.load(version_dir)  # the folder is a loadable bundle, version 2
    assert bundle.meta.model_version == "2"
    manifest = json.loads((version_dir / "manifest.json").read_text())
    files = tree(version_dir)
    del files["manifest.json"]
    assert {k: v["sha256"] for k, v in manifest["files"].items()} == files
    assert manifest["model_version"] == "2" and manifest["run_id"]
    assert "triton/spam-detector/config.pbtxt" in files
    assert "triton/spam-detector/1/model.onnx" in files


def test_publishing_again_uploads_nothing_and_repairs_a_damaged_file(registry, tmp_path):
    from spam_trainer.publish import check_published, open_store, publish_version

    out = str(tmp_path / "models")
    first = publish_version(MODEL, "1", out)
    assert "manifest.json" in first.uploaded and not first.unchanged
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "models").rglob("*")}
    again = publish_version(MODEL, "1", out)
    assert again.uploaded == [] and again.bytes_uploaded == 0
    assert len(again.unchanged) == len(first.uploaded)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "models").rglob("*")} == before
    store = open_store(out)
    assert check_published(store, MODEL, "1") == []

    onnx = tmp_path / "models" / MODEL / "v1" / "triton" / MODEL / "1" / "model.onnx"
    onnx.write_bytes(b"not a model")
    assert check_published(store, MODEL, "1") == [
        f"{out}/{MODEL}/v1/triton/{MODEL}/1/model.onnx: checksum differs from the manifest"
    ]
    repaired = publish_version(MODEL, "1", out)
    assert repaired.uploaded == [f"triton/{MODEL}/1/model.onnx"]
    assert check_published(store, MODEL, "1") == []


def test_publish_refuses_bad_input(registry, tmp_path):
    r = cli("publish", "--version", "v2", "--to", str(tmp_path / "m"))
    assert r.exit_code == 2 and "registered version number" in r.output
    r = cli("publish", "--version", "2")
    assert r.exit_code == 2 and "no publish location" in r.output
    r = cli("publish", "--version", "9", "--to", str(tmp_path / "m"))
    assert r.exit_code == 2 and "models:/spam-detector/9" in r.output
    r = cli("publish", "--version", "1", "--to", "s3://bucket/models")
    assert r.exit_code == 2 and "local directory or abfs://" in r.output
    assert not (tmp_path / "m").exists()


def chart_blob_paths(version: str) -> dict[str, str]:
    """Container and blob prefixes of the storageUri and features URI the chart renders."""
    from urllib.parse import urlsplit

    from tests.charts.chartlib import minimal_values, render_docs

    values = minimal_values({"global": {"model": {"tracks": {"production": {"version": version}}}}})
    docs = render_docs(values)
    isvc = next(d for d in docs if d.kind == "InferenceService" and d.name.endswith("production"))
    storage = urlsplit(isvc.body["spec"]["predictor"]["model"]["storageUri"]).path
    features = next(
        urlsplit(d.body["data"]["SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION"]).path
        for d in docs
        if d.kind == "ConfigMap" and "SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION" in d.body["data"]
    )
    return {"storage": storage.lstrip("/"), "features": features.lstrip("/")}


def test_publish_to_azurite_where_the_chart_reads_idempotent_and_verified(
    registry, azurite, tmp_path
):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container("models")
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    r = cli("publish", "--version", "3", "--to", "abfs://models", env=env)
    assert r.exit_code == 0, r.output
    assert "file(s) uploaded" in r.output and " 0 unchanged" in r.output

    container = service.get_container_client("models")
    blobs = {b.name: b.etag for b in container.list_blobs()}
    paths = chart_blob_paths("3")
    storage_container, storage_prefix = paths["storage"].split("/", 1)
    assert storage_container == "models"
    assert f"{storage_prefix}/{MODEL}/config.pbtxt" in blobs
    assert f"{storage_prefix}/{MODEL}/1/model.onnx" in blobs
    assert paths["features"].split("/", 1)[1] in blobs
    manifest = json.loads(container.download_blob(f"{MODEL}/v3/manifest.json").readall())
    for rel, entry in manifest["files"].items():
        data = container.download_blob(f"{MODEL}/v3/{rel}").readall()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], rel

    missing = cli("publish", "--version", "3", "--to", "abfs://no-such-container", env=env)
    assert missing.exit_code == 2, missing.output
    assert "abfs://no-such-container: cannot publish there" in missing.output

    again = cli("publish", "--version", "3", "--to", "abfs://models", env=env)
    assert again.exit_code == 0, again.output
    assert "0 file(s) uploaded (0 bytes)" in again.output
    assert {b.name: b.etag for b in container.list_blobs()} == blobs  # nothing rewritten


# --------------------------------------------------------------------------- promote
def test_promotion_refuses_a_version_that_is_not_published(
    registry, tmp_path, monkeypatch, dataset_dir
):
    from spam_core.features import NoHistory
    from spam_trainer.promote import PromotionError, promote
    from spam_trainer.publish import publish_version
    from spam_trainer.registry import alias_history, alias_version
    from spam_trainer.settings import get_trainer_settings

    out = tmp_path / "models"
    monkeypatch.setenv("SPAM_PUBLISH_URL", str(out))
    get_trainer_settings.cache_clear()
    settings = get_trainer_settings()
    with pytest.raises(PromotionError, match=r"v1 is not published .*no manifest.json"):
        promote(settings, dataset_dir=dataset_dir, version="1", reputation=NoHistory())
    assert alias_version(MODEL, "production") is None
    publish_version(MODEL, "1", str(out))
    result = promote(settings, dataset_dir=dataset_dir, version="1", reputation=NoHistory())
    assert result.promoted and alias_version(MODEL, "production") == "1"
    (entry,) = alias_history(MODEL, "production")
    assert entry["version"] == "1" and entry["previous"] is None
    assert entry["action"] == "promote" and entry["by"] == "release-bot"


# --------------------------------------------------------------------------- rollback
def promote_in_order(versions: list[str]) -> None:
    """Alias moves as promotions record them (the comparison is tested above)."""
    import mlflow

    from spam_trainer.registry import alias_version, record_alias_move

    client = mlflow.MlflowClient()
    for v in versions:
        previous = alias_version(MODEL, "production")
        client.set_registered_model_alias(MODEL, "production", v)
        record_alias_move(MODEL, "production", v, previous, action="promote", reason="test")


def test_rollback_goes_back_through_the_recorded_history(registry, tmp_path, monkeypatch):
    import mlflow

    from spam_trainer.publish import publish_version
    from spam_trainer.registry import alias_history, alias_version

    out = tmp_path / "models"
    for v in ("1", "2", "3"):
        publish_version(MODEL, v, str(out))
    monkeypatch.setenv("SPAM_PUBLISH_URL", str(out))
    promote_in_order(["1", "2", "3"])

    r = cli("rollback", "--reason", "v3 flags invoices", "--version-file", str(tmp_path / "v"))
    assert r.exit_code == 0, r.output
    assert "moved back from v3 to v2 (by release-bot: v3 flags invoices)" in r.output
    assert "global.model.tracks.production.version=2" in r.output
    assert (tmp_path / "v").read_text() == "2\n"
    assert alias_version(MODEL, "production") == "2"
    client = mlflow.MlflowClient()
    tags = client.get_model_version(MODEL, "2").tags
    record = json.loads(tags["production_rollback"])
    assert record["from"] == "3" and record["by"] == "release-bot"
    assert record["why"] == "v3 flags invoices"
    assert json.loads(tags.get("production_rollback"))["alias"] == "production"
    assert (
        json.loads(client.get_model_version(MODEL, "3").tags["production_rolled_back"])["to"] == "2"
    )
    assert alias_history(MODEL, "production")[-1]["action"] == "rollback"

    # a second rollback goes one step further back, not forth to v3
    r = cli("rollback", "--reason", "v2 too", "--by", "alice")
    assert r.exit_code == 0, r.output
    assert alias_version(MODEL, "production") == "1"
    assert alias_history(MODEL, "production")[-1]["by"] == "alice"
    r = cli("rollback", "--reason", "nothing left")
    assert r.exit_code == 2 and "no earlier 'production' version" in r.output
    # --to an explicit version (forward again is allowed: it is published and passed)
    r = cli("rollback", "--to", "3", "--reason", "fixed upstream")
    assert r.exit_code == 0 and alias_version(MODEL, "production") == "3"


def test_rollback_refuses_unpublished_failed_or_unknown_versions(registry, tmp_path, monkeypatch):
    import mlflow

    from spam_trainer.publish import publish_version
    from spam_trainer.registry import alias_version

    out = tmp_path / "models"
    publish_version(MODEL, "2", str(out))
    promote_in_order(["1", "2"])  # v1 was promoted before publication was required
    monkeypatch.setenv("SPAM_PUBLISH_URL", str(out))
    r = cli("rollback", "--reason", "x")
    assert r.exit_code == 2
    assert "v1 is not published where the serving components read it" in r.output
    assert alias_version(MODEL, "production") == "2"

    publish_version(MODEL, "3", str(out))
    mlflow.MlflowClient().set_model_version_tag(MODEL, "3", "gate", "failed")
    r = cli("rollback", "--to", "3", "--reason", "x")
    assert r.exit_code == 2 and "has not passed the quality gates" in r.output
    r = cli("rollback", "--to", "7", "--reason", "x")
    assert r.exit_code == 2 and "v7" in r.output
    r = cli("rollback", "--to", "latest")
    assert r.exit_code == 2 and "registered version number" in r.output
    r = cli("rollback", "--track", "canary", "--to", "2")
    assert r.exit_code == 2 and "alias must be one of" in r.output
    assert alias_version(MODEL, "production") == "2"


def test_without_history_rollback_asks_for_a_version(registry):
    import mlflow

    mlflow.MlflowClient().set_registered_model_alias(MODEL, "production", "2")
    r = cli("rollback", "--dry-run")
    assert r.exit_code == 2 and "pass --to VERSION" in r.output
    r = cli("rollback", "--to", "1", "--dry-run")
    assert r.exit_code == 0 and "would move back from v2 to v1" in r.output
