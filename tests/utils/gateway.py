"""The gateway's test stack: API keys, the gateway under real uvicorn, a real Azurite.

* :class:`GatewayServer` — ``spam_gateway.app.main.create_app`` under uvicorn (uvloop +
  httptools, as ``spam-gateway`` runs it) in a background thread, on a free loopback port.
* :class:`GatewayProcess` — the installed ``spam-gateway`` entry point as a subprocess.
* :class:`Azurite` — ``azurite-blob`` from ``.tools`` (``ci/scripts/install-tools.sh``) with a
  persistent ``--location``, so a stop/start keeps what was written (an outage, not a wipe).
* :func:`blob_rows` / :func:`local_rows` — what reached the inference-log store, per file.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import threading
import time
from pathlib import Path

import httpx
import orjson

from spam_gateway.app.core.security import hash_key
from tests.utils.paths import REPO
from tests.utils.services import ServiceProcess, free_port, terminate

MAX_BODY_BYTES = 2 * 1024 * 1024
"""The request body limit the test gateways run with."""
AZURITE_BIN = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

VIEWER_KEY = "spk_viewer_test_key"
OPERATOR_KEY = "spk_operator_test_key"
API_KEYS_JSON = orjson.dumps(
    [
        {"name": "tests-viewer", "sha256": hash_key(VIEWER_KEY), "role": "viewer"},
        {"name": "tests-operator", "sha256": hash_key(OPERATOR_KEY), "role": "operator"},
    ]
).decode()
VIEWER = {"X-API-Key": VIEWER_KEY}
OPERATOR = {"X-API-Key": OPERATOR_KEY}


def wait_until(predicate, timeout: float, interval: float = 0.05, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(message or f"condition not met within {timeout} s")
        time.sleep(interval)


def gateway_settings(tmp: Path, **overrides: object):
    """Hermetic settings (no .env): local inference log under ``tmp``, test API keys."""
    from spam_gateway.app.core.config import Settings

    values: dict[str, object] = {
        "API_KEYS": API_KEYS_JSON,
        "INFERENCE_LOG_URL": str(tmp / "inference-logs"),
        "INFERENCE_LOG_SPOOL_DIR": tmp / "spool",
        "LOG_FORMAT": "console",
        "LOG_LEVEL": "WARNING",
        "HEALTH_CACHE_S": 0.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class GatewayServer:
    """The gateway app under a real uvicorn server in a thread of this process."""

    def __init__(self, settings) -> None:
        import uvicorn

        from spam_gateway.app.main import create_app

        self.settings = settings
        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def inference_log(self):
        return self.app.state.inference_logger

    def start(self, timeout: float = 20.0) -> GatewayServer:
        self.thread.start()
        wait_until(
            lambda: self.server.started or not self.thread.is_alive(),
            timeout,
            message="the gateway did not start",
        )
        if not self.thread.is_alive():
            raise RuntimeError("the gateway thread exited during start-up")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GatewayProcess(ServiceProcess):
    """``spam-gateway`` (the installed console script) on a free loopback port; up when
    ``/health`` answers (200, or 503 ``unhealthy``: it serves, its log writer is broken)."""

    script = "spam-gateway"
    env_prefix = "SPAM_GATEWAY_"
    up_statuses = (200, 503)


class Azurite:
    """A real Azurite blob service on a free port; ``stop()`` + ``start()`` is an outage."""

    def __init__(self, location: Path, log_path: Path) -> None:
        self.location = location
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={self.blob_endpoint};"
        )

    def start(self, timeout: float = 30.0) -> Azurite:
        self.location.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(AZURITE_BIN),
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(self.port),
                    "--location",
                    str(self.location),
                    "--skipApiVersionCheck",
                    "--disableTelemetry",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"azurite exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.blob_endpoint}?comp=list", timeout=1)
                return True
            return False

        wait_until(up, timeout, interval=0.1, message="azurite did not start")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        terminate(process, 10)

    def container(self, name: str):
        from azure.storage.blob import ContainerClient

        return ContainerClient.from_connection_string(self.connection_string, name)


def blob_rows(container, prefix: str) -> dict[str, int]:
    """``{blob name: Parquet rows}`` under ``prefix`` of an Azure container."""
    import pyarrow.parquet as pq

    out = {}
    for blob in container.list_blobs(name_starts_with=prefix):
        data = container.download_blob(blob.name).readall()
        out[blob.name] = pq.read_metadata(io.BytesIO(data)).num_rows
    return out


def read_blobs(container, prefix: str):
    """All inference-log rows under ``prefix`` as one Arrow table (partition keys added)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for blob in container.list_blobs(name_starts_with=prefix):
        table = pq.read_table(io.BytesIO(container.download_blob(blob.name).readall()))
        parts = dict(p.split("=", 1) for p in blob.name.split("/") if "=" in p)
        for key in ("date", "hour", "environment"):
            table = table.append_column(key, pa.array([parts[key]] * table.num_rows))
        tables.append(table)
    return pa.concat_tables(tables, promote_options="default") if tables else None


def local_rows(root: Path) -> dict[str, int]:
    """``{relative path: Parquet rows}`` of a local inference-log directory."""
    import pyarrow.parquet as pq

    return {
        p.relative_to(root).as_posix(): pq.read_metadata(p).num_rows
        for p in sorted(root.rglob("*.parquet"))
        if not p.name.startswith(".")
    }
