"""Baselines from the model registry: ``models:/<model>/<version>`` resolved through a real
MLflow registry (SQLite backend, local artifact store), the layout training registers (the
bundle under the model's ``artifacts/bundle``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spam_drift.baselines import BaselineResolver
from spam_drift.errors import DriftInputError
from spam_drift.job import DriftConfig, run_drift
from tests.drift.test_job import NORMAL
from tests.utils.inference_logs import make_baseline, write_baseline

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered ``spam-detector`` version 1 whose bundle holds a drift baseline."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    bundle = tmp_path / "bundle"
    write_baseline(bundle / "drift_baseline.json", make_baseline())
    (bundle / "bundle.json").write_text("{}")  # found by name; the job reads only the baseline
    # artifacts under tmp_path (the default is ./mlruns in the working directory)
    experiment = mlflow.create_experiment(
        "drift-test", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(bundle), artifact_path="model/artifacts/bundle")
        source = mlflow.get_artifact_uri("model")
    client = mlflow.MlflowClient()
    client.create_registered_model("spam-detector")
    client.create_model_version("spam-detector", source, run_id=run.info.run_id)
    return "spam-detector"


def test_the_baseline_of_a_registered_version_comes_from_the_registry(registry, logs, tmp_path):
    report = run_drift(
        DriftConfig(
            inference_log=str(logs),
            reports=str(tmp_path / "out"),
            environment="production",
            window=NORMAL,
            html=False,
            cache_dir=tmp_path / "cache",
        )
    )
    assert report.status == "ok" and report.versions[0].model_version == "1"
    assert report.versions[0].baseline["rows"] == 5000
    assert list((tmp_path / "cache").iterdir()) == []  # the download is removed again


def test_an_unregistered_version_is_a_missing_baseline(registry, tmp_path):
    resolver = BaselineResolver(cache_dir=tmp_path / "cache")
    with pytest.raises(DriftInputError, match="no drift baseline for model version 9"):
        resolver.get(registry, "9")
