"""A real MLflow model registry (SQLite backend, local artifact store) holding small real
model bundles: fitted features, an XGBoost model exported to ONNX, the Triton repository the
trainer writes and ``bundle.json`` — registered as training registers them (the bundle under
the model's ``artifacts/bundle``), with the gate tag the staging gate sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

MODEL = "spam-detector"


def toy_bundle(out: Path, fitted, seed: int) -> Path:
    """A loadable bundle (``ModelBundle.load`` accepts it) around a toy ONNX model."""
    from spam_core import artifacts
    from spam_core.bundle import BundleMeta, sha256_bytes, write_meta
    from spam_core.features import FEATURE_SET_VERSION
    from spam_trainer.triton import write_model_repository
    from tests.utils.toy_models import toy_onnx

    out.mkdir(parents=True)
    artifacts.save(fitted, out / "features.json")
    onnx = toy_onnx(seed)
    (out / "model.onnx").write_bytes(onnx)
    write_model_repository(onnx, out / "triton", model_name=MODEL)
    write_meta(
        out,
        BundleMeta(
            model_name=MODEL,
            model_version="unregistered",
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
            feature_set=FEATURE_SET_VERSION,
            features_fingerprint=fitted.fingerprint,
            n_features=len(fitted.feature_names),
            onnx_sha256=sha256_bytes(onnx),
            threshold=0.5,
            threshold_rule="test",
        ),
    )
    return out


def make_registry(tmp_path: Path, fitted, versions: int = 3) -> str:
    """Register ``versions`` toy bundles (gates passed) under ``tmp_path``; the tracking URI."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(
        "registry-test", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    client.create_registered_model(MODEL)
    for i in range(1, versions + 1):
        bundle = toy_bundle(tmp_path / f"bundle-{i}", fitted, seed=i)
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_artifacts(str(bundle), artifact_path="model/artifacts/bundle")
            source = mlflow.get_artifact_uri("model")
        version = client.create_model_version(MODEL, source, run_id=run.info.run_id).version
        client.set_model_version_tag(MODEL, version, "gate", "passed")
    return uri
