"""The Ray Tune search on a separately started Ray cluster (``SPAM_RAY_ADDRESS``), as the tune
step runs it against KubeRay: a real ``ray start --head`` of this environment on free ports
(1 CPU), a tiny search on a small sample, the head still running afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from spam_trainer.tune import TuneSettings, run_search
from tests.utils.services import RayHead

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory):
    with RayHead(tmp_path_factory.mktemp("ray-head") / "head.log") as head:
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
