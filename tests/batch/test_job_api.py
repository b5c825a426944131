"""The batch image's Ray dashboard job API (port 8265 on the chart's RayCluster head), through
which KubeRay submits the gateway's RayJobs: ``ray job submit`` from the submitter pod in
``K8sJobMode``, the operator's own HTTP calls in ``HTTPMode``. A real ``ray start --head`` with
the dashboard, on free ports (1 CPU), in the batch image's environment (its exported
requirements and packages, nothing of this test environment), takes a job both ways. The
image installs ``ray[default]`` (the ``cluster`` extra of images/batch); the development
environment does not."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.utils.image_env import REPO, build_image_env
from tests.utils.services import RayHead

BATCH = REPO / "images" / "batch"
MARKER = "spam-batch job api"
# the entrypoint: the image's package, and a task on the cluster it joins (RAY_ADDRESS, set by
# Ray's job supervisor as in a RayJob)
ENTRYPOINT_CODE = (
    "import json, sys, ray, spam_batch; ray.init(); "
    "where = ray.get(ray.remote(lambda: sys.executable).remote()); "
    f"print({MARKER!r}, json.dumps({{'driver': sys.executable, 'task': where, "
    "'spam_batch': spam_batch.__file__}))"
)


def _pinned(requirements: Path) -> dict[str, str]:
    return {
        m.group(1).lower().replace("_", "-"): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s\\;]+)", requirements.read_text(), re.M)
    }


def test_the_batch_image_has_the_dashboard_and_the_development_environment_does_not():
    """The batch image's pinned requirements hold Ray's ``default`` extra (the dashboard and
    its job API), in the Ray version the batch chart declares and this environment has; this
    (development) environment stays without it, so a local ``ray.init`` starts no full
    dashboard (Ray's own test: ``ray.dashboard.optional_deps`` does not import)."""
    pinned = _pinned(BATCH / "requirements.txt")
    ray_dist = importlib.metadata.distribution("ray")
    default_extra = {
        re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-")
        for r in ray_dist.requires or []
        if 'extra == "default"' in r
    }
    assert {"aiohttp-cors", "opencensus", "py-spy"} <= default_extra, "ray's default extra?"
    missing = sorted(default_extra - set(pinned))
    assert not missing, f"images/batch/requirements.txt lacks {missing} (ray[default])"
    chart = yaml.safe_load((REPO / "charts/spam-platform/charts/batch/values.yaml").read_text())
    assert pinned["ray"] == chart["rayVersion"] == ray_dist.version
    with pytest.raises(ImportError):
        import ray.dashboard.optional_deps  # noqa: F401


@pytest.fixture(scope="module")
def batch_image_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The batch image's Python environment (images/batch/Dockerfile without Docker)."""
    return build_image_env("batch", ("core", "batch"), tmp_path_factory.mktemp("batch-env"))


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory, batch_image_env: Path):
    log = tmp_path_factory.mktemp("ray-head") / "head.log"
    with RayHead(log, bin_dir=batch_image_env, dashboard=True) as head:
        yield head


def _image_env(head: RayHead, bin_dir: Path) -> dict[str, str]:
    """The environment of a process of the image (the submitter pod's ``ray``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    env.update(HOME=str(head.home), RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    return env


def _ray_job_submit(head: RayHead, bin_dir: Path, code: str) -> subprocess.CompletedProcess:
    """``ray job submit --address <head>:8265 -- python -c <code>`` as the image runs it."""
    return subprocess.run(
        [str(bin_dir / "ray"), "job", "submit", "--address", head.dashboard_address,
         "--", "python", "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=_image_env(head, bin_dir),
        cwd=head.home,
    )  # fmt: skip


def _job_output(logs: str, bin_dir: Path) -> dict[str, str]:
    (line,) = [x for x in logs.splitlines() if x.startswith(MARKER)]
    seen = json.loads(line.removeprefix(MARKER))
    env_root = bin_dir.parent
    for name in ("driver", "task", "spam_batch"):  # all of it the image's, none of this env
        assert Path(seen[name]).is_relative_to(env_root), (name, seen[name])
    return seen


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ray_job_submit_runs_a_job_on_the_head_k8s_job_mode(
    ray_head: RayHead, batch_image_env: Path
):
    """What KubeRay's submitter pod (batch image) runs: ``ray job submit --address <head>:8265
    -- <entrypoint>``, waiting for the job; its exit code is the job's."""
    submit = _ray_job_submit(ray_head, batch_image_env, ENTRYPOINT_CODE)
    output = submit.stdout + submit.stderr
    assert submit.returncode == 0, output[-3000:]
    assert re.search(r"Job 'raysubmit_\w+' succeeded", output), output[-3000:]
    _job_output(submit.stdout, batch_image_env)
    # a failing entrypoint fails the submission (the RayJob's status follows it)
    failing = _ray_job_submit(ray_head, batch_image_env, "raise SystemExit(3)")
    assert failing.returncode != 0
    assert re.search(r"Job 'raysubmit_\w+' failed", failing.stdout + failing.stderr)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_job_api_over_http_http_mode(ray_head: RayHead, batch_image_env: Path):
    """What the KubeRay operator calls in ``HTTPMode``: the job REST API on the dashboard port
    (submit, status, logs)."""
    api = f"{ray_head.dashboard_address}/api/jobs/"
    entrypoint = f"python -c {shlex.quote(ENTRYPOINT_CODE)}"
    with httpx.Client(timeout=30) as client:
        submitted = client.post(api, json={"entrypoint": entrypoint})
        assert submitted.status_code == 200, submitted.text
        job_id = submitted.json()["submission_id"]
        deadline = time.monotonic() + 240
        status = None
        while time.monotonic() < deadline:
            status = client.get(f"{api}{job_id}").json()["status"]
            if status in ("SUCCEEDED", "FAILED", "STOPPED"):
                break
            time.sleep(1)
        logs = client.get(f"{api}{job_id}/logs").json()["logs"]
    assert status == "SUCCEEDED", logs[-3000:]
    _job_output(logs, batch_image_env)
