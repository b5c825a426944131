"""The Ray Tune search on a separately started Ray cluster (``SPAM_RAY_ADDRESS``), as the tune
step runs it against the chart's tuning RayCluster (KubeRay): a real ``ray start --head`` on
free ports (1 CPU) whose head and workers run in the trainer image's environment (its exported
requirements and packages, nothing of this test environment), a tiny search on a small sample
from this process as the driver — through the GCS address, and through Ray Client
(``ray://``, how the KFP step's pod reaches the cluster) — the head still running afterwards."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from spam_trainer.tune import TuneSettings, run_search
from tests.utils.image_env import REPO, build_image_env
from tests.utils.services import RayHead

TRAINER = REPO / "images" / "trainer"


@pytest.fixture(scope="module")
def trainer_image_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trainer image's Python environment (images/trainer/Dockerfile without Docker)."""
    return build_image_env("trainer", ("core", "trainer"), tmp_path_factory.mktemp("trainer-env"))


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory, trainer_image_env: Path):
    log = tmp_path_factory.mktemp("ray-head") / "head.log"
    with RayHead(log, bin_dir=trainer_image_env) as head:
        yield head


@pytest.fixture(scope="module")
def sample():
    """A small learnable problem (300 train, 100 validation rows)."""
    rng = np.random.default_rng(7)
    x = rng.random((400, 12), dtype=np.float32)
    y = (x[:, 0] + 0.5 * x[:, 3] + 0.2 * rng.random(400) > 0.85).astype(int)
    return x[:300], y[:300], x[300:], y[300:]


def _tiny(**kwargs) -> TuneSettings:
    return TuneSettings(
        trials=2, cpus=1, max_rounds=20, early_stopping_rounds=5, report_every=5, **kwargs
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_search_runs_on_the_cluster_at_the_address(ray_head: RayHead, sample, tmp_path):
    import ray

    assert not ray.is_initialized()
    outcome = run_search(*sample, _tiny(ray_address=ray_head.address), work_dir=tmp_path / "ray")
    assert len(outcome.trials) == 2
    assert 0.5 < outcome.best_val_auc <= 1.0
    assert set(outcome.best_config) >= {"max_depth", "eta", "n_estimators"}
    # this process was a driver of that cluster (its driver log is in the head's session),
    # not of an embedded Ray of its own; it disconnected, the cluster is still up
    drivers = list(ray_head.session_logs.glob(f"python-core-driver-*_{os.getpid()}.log"))
    assert drivers, sorted(p.name for p in ray_head.session_logs.iterdir())
    workers = list(ray_head.session_logs.glob("python-core-worker-*.log"))
    assert workers  # the trials' worker processes were the head's
    assert not ray.is_initialized()
    assert ray_head.process is not None and ray_head.process.poll() is None
    # ... and takes another search: the cluster's one CPU limits the concurrency to 1
    again = run_search(*sample, _tiny(ray_address=ray_head.address), work_dir=tmp_path / "ray2")
    assert len(again.trials) == 2


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_search_runs_through_ray_client_in_the_trainer_image_environment(
    ray_head: RayHead, trainer_image_env: Path, sample, tmp_path
):
    """The chart's address: ``ray://<head service>:10001``. The driver (here, the KFP step's pod
    there) needs only this port; the trials and the search loop run on the cluster with what
    the trainer image installs."""
    import ray

    work_dir = tmp_path / "ray"
    on_head = ray_head.home / "ray_results"
    settings = _tiny(ray_address=ray_head.client_address, cluster_storage_path=str(on_head))
    outcome = run_search(*sample, settings, work_dir=work_dir)
    assert len(outcome.trials) == 2
    assert 0.5 < outcome.best_val_auc <= 1.0
    assert not ray.is_initialized()
    # the experiment state stayed on the cluster's side, nothing under the driver's path
    assert not work_dir.exists()
    assert list(on_head.glob("xgboost-search/*/params.json"))
    # what a trial imports resolves inside the image's environment, never this one's
    ray.init(ray_head.client_address, log_to_driver=False)
    try:

        @ray.remote(num_cpus=1)
        def trial_environment() -> dict[str, str]:
            import sys

            import optuna
            import ray as worker_ray
            import xgboost

            import spam_trainer.tune

            return {
                "python": sys.executable,
                "ray": worker_ray.__version__,
                **{m.__name__: m.__file__ for m in (optuna, xgboost, spam_trainer.tune)},
            }

        seen = ray.get(trial_environment.remote())
    finally:
        ray.shutdown()
    env_root = trainer_image_env.parent
    assert Path(seen.pop("python")).parent == trainer_image_env
    assert seen.pop("ray") == ray.__version__  # Ray Client needs the same Ray on both sides
    for module, path in seen.items():
        assert Path(path).is_relative_to(env_root), (module, path)
    assert ray_head.process is not None and ray_head.process.poll() is None
    # KubeRay's worker init container waits for the GCS with the image's own `ray health-check`
    check = subprocess.run(
        [str(trainer_image_env / "ray"), "health-check", "--address", ray_head.address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_trainer_image_has_what_a_trial_needs():
    """The chart's tuning RayCluster runs the trainer image: its pinned requirements must hold
    Ray (with Tune's own dependencies), XGBoost and Optuna, in the Ray version the chart
    declares and this driver has, and its Dockerfile must install the trainer package (the
    trainable, ``spam_trainer.tune._trainable``, is pickled by reference)."""
    pinned = {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(
            r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", (TRAINER / "requirements.txt").read_text(), re.M
        )
    }
    ray_dist = importlib.metadata.distribution("ray")
    tune_extra = {
        re.split(r"[<>=!;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-")
        for r in ray_dist.requires or []
        if 'extra == "tune"' in r
    }
    assert tune_extra, "ray declares no tune extra"
    needs = {"ray", "optuna"} | tune_extra
    missing = sorted(needs - set(pinned))
    assert not missing, f"images/trainer/requirements.txt lacks {missing}"
    assert {"xgboost", "xgboost-cpu"} & set(pinned), "no XGBoost in the trainer image"
    chart = yaml.safe_load((REPO / "charts/spam-platform/charts/tuning/values.yaml").read_text())
    assert chart["image"]["repository"] == "spam-platform/trainer"
    assert pinned["ray"] == chart["rayVersion"] == ray_dist.version
    dockerfile = (TRAINER / "Dockerfile").read_text()
    assert re.search(r"pip install --no-deps \./images/core \./images/trainer", dockerfile)


@pytest.mark.slow
def test_an_unreachable_address_fails_clearly(sample, tmp_path):
    from tests.utils.services import free_port

    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(RuntimeError, match=f"Ray cluster at {address}: cannot connect"):
        run_search(*sample, _tiny(ray_address=address), work_dir=tmp_path / "ray")


def test_the_address_comes_from_the_settings(monkeypatch, tmp_path: Path):
    from spam_trainer.settings import TrainerSettings

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("SPAM_RAY_ADDRESS", raising=False)
    assert TrainerSettings().ray_address is None
    monkeypatch.setenv("SPAM_RAY_ADDRESS", "ray://head.ray.svc:10001")
    assert TrainerSettings().ray_address == "ray://head.ray.svc:10001"
