"""Detached child processes with pid files, and HTTP readiness waits."""

from __future__ import annotations

import contextlib
import logging.handlers
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path


class ProcessError(RuntimeError):
    """A child process that exited or never became ready; ``log_file`` is where it logged."""

    def __init__(self, message: str, log_file: Path | None = None) -> None:
        super().__init__(message)
        self.log_file = log_file


SECRET_ENV = ("SPAM_API_KEY",)
"""Variables no child process gets: the plain API key stays with the command that was given
it (``up`` writes its SHA-256 to the key file the gateway reads)."""

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3
"""Service logs rotate by size: ``<name>.log`` up to 10 MiB, then ``<name>.log.1`` … ``.3``."""


def child_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) without ``SECRET_ENV``: the start of every child's
    environment."""
    return {k: v for k, v in (os.environ if base is None else base).items() if k not in SECRET_ENV}


def _pump(stream, log_file: Path, max_bytes: int, backups: int) -> None:
    handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", errors="replace"
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    with contextlib.suppress(ValueError, OSError):
        for line in iter(stream.readline, b""):
            handler.emit(
                logging.makeLogRecord({"msg": line.rstrip(b"\n").decode("utf-8", "replace")})
            )
    handler.close()


def spawn_rotating(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log_file: Path,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session, its output through a size-rotated log (a thread
    of this process writes it: for services whose parent lives as long as they do)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        start_new_session=True,
    )
    threading.Thread(
        target=_pump,
        args=(process.stdout, log_file, max_bytes, backups),
        name=f"log-{name}",
        daemon=True,
    ).start()
    return process


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers signal 0
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return False
    return True


def spawn(
    name: str,
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    log_file: Path,
    pid_file: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (survives the caller; stoppable as a group)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"\n$ {' '.join(command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    if pid_file is not None:
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{process.pid}\n")
    return process


def stop_pid(pid: int, *, timeout: float = 20.0) -> bool:
    """SIGTERM the process group, wait, then SIGKILL it. True if something was stopped."""
    if not alive(pid):
        return False
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return True


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError, TimeoutError):
        return None


def wait_http(
    url: str,
    *,
    timeout: float,
    expect: int = 200,
    process: subprocess.Popen[bytes] | None = None,
    what: str = "",
    log_file: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_status(url) == expect:
            return
        if process is not None and process.poll() is not None:
            raise ProcessError(
                f"{what or url} exited with code {process.returncode}" + _tail(log_file),
                log_file,
            )
        time.sleep(0.25)
    raise ProcessError(f"{what or url} not ready after {timeout:.0f} s" + _tail(log_file), log_file)


def _tail(log_file: Path | None, lines: int = 15) -> str:
    if log_file is None or not log_file.is_file():
        return ""
    text = log_file.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log_file}:\n" + "\n".join(text)
