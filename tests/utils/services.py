"""Real services the tests start on free ports: the platform's own console scripts
(``ServiceProcess``) and redis-server (the Feast online store)."""

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
