"""Real services the tests start on free ports: the platform's own console scripts
(``ServiceProcess``), redis-server (the Feast online store) and a Ray head (``RayHead``: a
separately started cluster, as KubeRay runs one)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def terminate(process: subprocess.Popen | None, timeout: float = 10.0) -> int | None:
    """SIGTERM, ``timeout`` seconds, then SIGKILL; the exit code (``None``: no process)."""
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


def free_port() -> int:
    from spam_local.tritonserver import free_port as _free_port

    return _free_port()


class ServiceProcess:
    """A console script of this workspace (``spam-gateway``, ``spam-transformer``) on a free
    loopback port, started with the caller's settings and waited for on ``GET /health``.

    Subclasses name the script, the settings prefix and the health answers that mean "up"."""

    script: str
    env_prefix: str
    up_statuses: tuple[int, ...] = (200,)
    stop_timeout: float = 30.0

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {
            **os.environ,
            **env,
            f"{self.env_prefix}HOST": "127.0.0.1",
            f"{self.env_prefix}PORT": str(self.port),
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0):
        # generous: a transformer imports Feast and the Triton clients first, which on two
        # loaded cores (``make test-fast`` runs two workers) took over 30 s
        exe = Path(sys.executable).parent / self.script
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(exe)], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.script} exited; log:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).status_code in self.up_statuses:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.script} did not start within {timeout} s; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float | None = None) -> int | None:
        process, self.process = self.process, None
        return terminate(process, self.stop_timeout if timeout is None else timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """``redis-server`` (Debian package) on a free port, no persistence; stop/start on the same
    port so a test can take the store away and bring it back."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed (ci/scripts/install-tools.sh)")
        self.exe = exe
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def connection_string(self) -> str:
        """Feast's form, with short timeouts so an outage fails fast."""
        return f"127.0.0.1:{self.port},socket_timeout=0.5,socket_connect_timeout=0.5"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                self.exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        terminate(self.process, 10)
        self.process = None


class RayHead:
    """``ray start --head --block`` of this environment (or of the venv at ``bin_dir``, e.g. a
    trainer image's) on free ports, in its own temporary directory and process group: a Ray
    cluster separate from the test process; with ``dashboard``, Ray's dashboard and its job API
    too (on 127.0.0.1, a free port; needs ``ray[default]`` in that environment). Stopped by
    signalling exactly that process group (never ``ray stop``, which stops every Ray of the
    user on the machine)."""

    PORT_OPTIONS = (
        "--port",
        "--ray-client-server-port",
        "--node-manager-port",
        "--object-manager-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
        "--metrics-export-port",
    )

    def __init__(
        self,
        log_path: Path,
        num_cpus: int = 1,
        bin_dir: Path | None = None,
        dashboard: bool = False,
    ) -> None:
        import tempfile

        self.log_path = log_path
        self.num_cpus = num_cpus
        self.dashboard = dashboard
        # the environment the head and its workers run in: this one, or another venv's bin
        # (the trainer image's requirements, see tests/utils/image_env.py)
        self.bin_dir = bin_dir or Path(sys.executable).parent
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rh-", dir="/tmp"))  # short: sockets
        options = self.PORT_OPTIONS + (("--dashboard-port",) if dashboard else ())
        self.ports = {option: free_port() for option in options}
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """The GCS address ``ray.init(address=...)`` takes."""
        return f"127.0.0.1:{self.ports['--port']}"

    @property
    def client_address(self) -> str:
        """The Ray Client URI (``ray://``)."""
        return f"ray://127.0.0.1:{self.ports['--ray-client-server-port']}"

    @property
    def dashboard_address(self) -> str:
        """The dashboard's HTTP address (``ray job submit --address``, the job API)."""
        if not self.dashboard:
            raise RuntimeError("this Ray head runs without the dashboard")
        return f"http://127.0.0.1:{self.ports['--dashboard-port']}"

    @property
    def home(self) -> Path:
        """HOME of the head and its workers when they run in another environment."""
        return self.temp_dir / "home"

    @property
    def session_logs(self) -> Path:
        return self.temp_dir / "session_latest" / "logs"

    def start(self, timeout: float = 120.0) -> RayHead:
        exe = self.bin_dir / "ray"
        ports = [a for option, port in self.ports.items() for a in (option, str(port))]
        dashboard = (
            ["--include-dashboard=true", "--dashboard-host", "127.0.0.1"]
            if self.dashboard
            else ["--include-dashboard=false"]
        )
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
        if self.bin_dir != Path(sys.executable).parent:  # that venv only, as in its image
            env.pop("VIRTUAL_ENV", None)
            env.pop("PYTHONPATH", None)
            env["PATH"] = os.pathsep.join([str(self.bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
            env["HOME"] = str(self.home)  # as the chart's Ray pods: a HOME of the cluster's own
            self.home.mkdir(exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(exe), "start", "--head", "--block", "--num-cpus", str(self.num_cpus),
                    *dashboard, "--disable-usage-stats",
                    "--temp-dir", str(self.temp_dir), *ports,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.temp_dir,  # nothing of the repository on its workers' path
                start_new_session=True,
            )  # fmt: skip
        raylet = self.temp_dir / "session_latest" / "sockets" / "raylet"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if raylet.exists():
                with contextlib.suppress(OSError, httpx.HTTPError):
                    socket.create_connection(("127.0.0.1", self.ports["--port"]), 0.5).close()
                    if self.dashboard:  # the job API answers
                        url = f"{self.dashboard_address}/api/version"
                        httpx.get(url, timeout=2).raise_for_status()
                    return self
            time.sleep(0.2)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"the Ray head did not start:\n{tail}")

    def stop(self) -> None:
        """SIGTERM to the head's process group (``--block`` stops what it started), then
        SIGKILL to whatever of the group is left; the temporary directory removed."""
        if self.process is not None:
            pgid = self.process.pid  # start_new_session: the group is the head's own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            self.process = None
        # Ray's worker processes start sessions of their own: they leave when their raylet is
        # gone; any that has not after 10 s is killed, found by this head's temporary dir
        deadline = time.monotonic() + 10
        while (left := self._session_processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def _session_processes(self) -> list[int]:
        """Processes whose command line names this head's temporary directory."""
        marker = str(self.temp_dir).encode()
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if marker in (proc / "cmdline").read_bytes():
                        found.append(int(proc.name))
        return found

    def __enter__(self) -> RayHead:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
