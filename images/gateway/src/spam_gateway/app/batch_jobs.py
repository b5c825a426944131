"""Async batch jobs: submit to a backend, read status documents.

Backends (``SPAM_GATEWAY_BATCH_BACKEND``):

* ``local``: a ``spam-batch run`` subprocess on this machine (Ray in that process) — the local
  platform and the tests; needs the batch package installed beside the gateway;
* ``rayjob``: a KubeRay ``RayJob`` created from the template the chart mounts
  (``SPAM_GATEWAY_BATCH_RAYJOB_TEMPLATE``) in ``SPAM_GATEWAY_BATCH_NAMESPACE``, with the
  gateway's ServiceAccount (the chart's Role allows exactly that).

Either way the job writes its status document to ``SPAM_GATEWAY_BATCH_STATUS_URL`` (a
directory or an ``abfs://`` URL); ``GET /predict/batch/{job_id}`` reads it from there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from spam_core.jobs import JobStatus, StatusStore, new_job_id
from spam_core.locations import LocationRefused, confine
from spam_gateway.app.core.config import Settings
from spam_gateway.app.core.errors import GatewayError, InvalidInput


class BatchUnavailable(GatewayError):
    code = "batch_unavailable"


def model_ref(settings: Settings, environment: str) -> str:
    explicit = getattr(settings, f"BATCH_MODEL_REF_{environment.upper()}")
    if explicit:
        return explicit
    version = getattr(settings, f"MODEL_VERSION_{environment.upper()}")
    if not version:
        raise BatchUnavailable(f"no model version configured for the {environment} track")
    return f"models:/{settings.MODEL_NAME}/{version}"


def _check_uri(name: str, value: str, roots: list[str]) -> str:
    """The one location rule (``spam_core.locations.confine``), as a 422 naming the reason."""
    try:
        return confine(value, roots, name)
    except LocationRefused as exc:
        raise InvalidInput(str(exc), details={"field": name, "allowed": roots}) from None


class BatchJobs:
    """Submission and status for one gateway process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = StatusStore(settings.BATCH_STATUS_URL)
        self._children: set[asyncio.subprocess.Process] = set()

    async def submit(self, input_path: str, output_path: str | None, environment: str) -> JobStatus:
        backend = self.settings.BATCH_BACKEND
        if backend == "none":
            raise BatchUnavailable("async batch jobs are disabled (SPAM_GATEWAY_BATCH_BACKEND)")
        job_id = new_job_id()
        settings = self.settings
        input_path = _check_uri("input_path", input_path, settings.BATCH_INPUT_ROOTS)
        output_path = _check_uri(
            "output_path",
            output_path
            or (f"{settings.BATCH_OUTPUT_URL.rstrip('/')}/{job_id}/predictions.parquet"),
            settings.BATCH_OUTPUT_ROOTS,
        )
        status = JobStatus(
            job_id=job_id,
            state="pending",
            environment=environment,
            model_ref=model_ref(self.settings, environment),
            input_path=input_path,
            output_path=output_path,
        )
        await asyncio.to_thread(self.store.write, status)
        if backend == "local":
            await self._submit_local(status)
        else:
            await asyncio.to_thread(self._submit_rayjob, status)
        return status

    async def get(self, job_id: str) -> JobStatus | None:
        try:
            return await asyncio.to_thread(self.store.read, job_id)
        except ValueError:
            return None

    # ------------------------------------------------------------------ local
    async def _submit_local(self, status: JobStatus) -> None:
        exe = shutil.which("spam-batch") or str(Path(sys.executable).parent / "spam-batch")
        if not Path(exe).exists():
            raise BatchUnavailable("the local batch backend needs `spam-batch` installed")
        args = [
            exe,
            "run",
            "--input",
            status.input_path,
            "--output",
            status.output_path,
            "--model",
            status.model_ref,
            "--status-dir",
            self.settings.BATCH_STATUS_URL,
            "--job-id",
            status.job_id,
            "--environment",
            status.environment,
        ]
        if self.settings.BATCH_CPUS:
            args += ["--cpus", str(self.settings.BATCH_CPUS)]
        env = dict(os.environ)
        env["SPAM_BATCH_INPUT_ROOTS"] = " ".join(self.settings.BATCH_INPUT_ROOTS)
        env["SPAM_BATCH_OUTPUT_ROOTS"] = " ".join(self.settings.BATCH_OUTPUT_ROOTS)
        if self.settings.INFERENCE_LOG_URL:
            env["SPAM_INFERENCE_LOG_URL"] = self.settings.INFERENCE_LOG_URL
        log_dir = Path(self.settings.BATCH_LOG_DIR)
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / f"{status.job_id}.log").open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
            )
        self._children.add(process)
        task = asyncio.get_running_loop().create_task(process.wait())  # reap, no zombies
        task.add_done_callback(lambda _t: self._children.discard(process))

    # ------------------------------------------------------------------ RayJob
    def render_rayjob(self, status: JobStatus) -> dict[str, Any]:
        import yaml

        template = self.settings.BATCH_RAYJOB_TEMPLATE
        if template is None or not Path(template).is_file():
            raise BatchUnavailable(
                "no RayJob template mounted (SPAM_GATEWAY_BATCH_RAYJOB_TEMPLATE)"
            )
        version = status.model_ref.rsplit("/", 1)[-1]
        text = Path(template).read_text()
        for key, value in {
            "job_id": status.job_id,
            "input_uri": status.input_path,  # the chart's placeholder names (values API)
            "output_uri": status.output_path,
            "environment": status.environment,
            "model_version": version,
            "status_uri": self.settings.BATCH_STATUS_URL,
            # the job checks its locations again against the gateway's roots
            "input_roots": " ".join(self.settings.BATCH_INPUT_ROOTS),
            "output_roots": " ".join(self.settings.BATCH_OUTPUT_ROOTS),
        }.items():
            text = text.replace("{" + key + "}", value)
        manifest = yaml.safe_load(text)
        manifest.setdefault("metadata", {})["name"] = status.job_id
        return manifest

    def _submit_rayjob(self, status: JobStatus) -> None:
        from kubernetes import client, config
        from kubernetes.client.exceptions import ApiException

        manifest = self.render_rayjob(status)
        namespace = self.settings.BATCH_NAMESPACE or manifest["metadata"].get("namespace")
        if not namespace:
            raise BatchUnavailable("no namespace for RayJobs (SPAM_GATEWAY_BATCH_NAMESPACE)")
        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        try:
            client.CustomObjectsApi().create_namespaced_custom_object(
                "ray.io", "v1", namespace, "rayjobs", manifest
            )
        except ApiException as exc:
            status.state, status.errors = "failed", [f"RayJob not created: {exc.reason}"]
            self.store.write(status)
            raise BatchUnavailable(
                f"the RayJob could not be created: {exc.reason}",
                retry_after=self.settings.RETRY_AFTER_S,
            ) from None

    async def close(self) -> None:
        """Running local jobs are left to finish (they are their own sessions)."""
        self._children.clear()
