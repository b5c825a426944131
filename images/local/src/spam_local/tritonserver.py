"""Run the real tritonserver bundled with nvidia-pytriton locally (CPU, python backend).

The ``nvidia-pytriton`` wheel ships ``pytriton/tritonserver/bin/tritonserver`` (Triton 2.51) with
the python backend only, plus one ``triton_python_backend_stub`` per Python version. To run the
binary directly (without PyTriton's own model proxy):

* a backend directory: the wheel's ``tritonserver/backends`` with the stub for the running
  interpreter's Python version placed in ``backends/python/`` (prepared once in a cache dir);
* ``LD_LIBRARY_PATH``: ``site-packages/nvidia_pytriton.libs`` and the directory holding the
  ``libpython3.X`` of the running interpreter (``sysconfig`` ``LIBDIR``). Without it the stub
  links the system's libpython, which loads and then fails in odd ways when it is another patch
  release;
* ``PATH`` with the environment's ``bin`` first: the embedded interpreter of the stub finds its
  ``site-packages`` (onnxruntime, numpy) through the ``python3`` there.

Model directories written by ``spam_trainer.triton.write_model_repository`` carry a python-backend
config in ``configs/local.pbtxt``, selected here by ``--model-config-name=local``.

Usage::

    with LocalTritonServer([repo_root]) as server:   # start() + wait_ready()
        client = tritonclient.http.InferenceServerClient(server.http_address)
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
LOG_FILE = "tritonserver.log"
_GLOG_ERROR = re.compile(r"^E\d{4} ")
# logged by every CPU-only start
_HARMLESS = ("CudaDriverHelper has not been initialized", "Unable to get number of GPUs", "NVML")
_PORT_ERRORS = ("Address already in use", "failed to start", "Failed to bind", "Failed to listen")


class TritonServerError(RuntimeError):
    """The server could not be prepared, started, or did not become ready."""


class TritonNotInstalledError(TritonServerError):
    """nvidia-pytriton (and so the bundled tritonserver binary) is not installed."""


# --------------------------------------------------------------------------- distribution


@dataclass(frozen=True, slots=True)
class TritonDistribution:
    """Paths of the tritonserver distribution inside the installed ``pytriton`` package."""

    root: Path  # .../site-packages/pytriton/tritonserver
    binary: Path
    backends: Path
    stub: Path  # python_backend_stubs/<major.minor>/triton_python_backend_stub
    libs: Path  # .../site-packages/nvidia_pytriton.libs

    @property
    def python_version(self) -> str:
        return self.stub.parent.name


def find_distribution(python_version: str | None = None) -> TritonDistribution:
    """Locate the bundled tritonserver; ``TritonNotInstalledError`` if absent.

    Finds the ``pytriton`` package without importing it.
    """
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonNotInstalledError("nvidia-pytriton is not installed (no 'pytriton' package)")
    package = Path(next(iter(spec.submodule_search_locations)))
    root = package / "tritonserver"
    dist = TritonDistribution(
        root=root,
        binary=root / "bin" / "tritonserver",
        backends=root / "backends",
        stub=root / "python_backend_stubs" / python_version / "triton_python_backend_stub",
        libs=package.parent / "nvidia_pytriton.libs",
    )
    if not dist.binary.is_file():
        raise TritonNotInstalledError(f"no tritonserver binary at {dist.binary}")
    if not dist.stub.is_file():
        raise TritonNotInstalledError(f"no python backend stub for Python {python_version}")
    if not (dist.backends / "python").is_dir():
        raise TritonNotInstalledError(f"no python backend in {dist.backends}")
    return dist


def libpython_dir() -> Path:
    """Directory of the shared libpython of the running interpreter (pyenv: .../3.11.x/lib)."""
    names = [
        sysconfig.get_config_var("INSTSONAME"),
        sysconfig.get_config_var("LDLIBRARY"),
        f"libpython{sys.version_info.major}.{sys.version_info.minor}.so.1.0",
    ]
    dirs = [sysconfig.get_config_var("LIBDIR"), Path(sys.base_prefix) / "lib"]
    for directory in dirs:
        for name in names:
            if directory and name and (Path(directory) / name).is_file():
                return Path(directory)
    raise TritonServerError(
        f"no shared libpython for {sys.base_prefix} (looked for {names} in {dirs}): the "
        "python backend stub needs the libpython of the interpreter that runs the models; "
        "use a Python built with --enable-shared"
    )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "spam-platform" / "tritonserver"


def prepare_backend_directory(
    dist: TritonDistribution | None = None, cache_dir: Path | None = None
) -> Path:
    """A backend directory with the stub in ``python/``; built once per distribution.

    The wheel's files are symlinked, the stub is copied; the directory is built under a
    temporary name and renamed into place, so concurrent callers are safe.
    """
    dist = dist or find_distribution()
    stat = dist.stub.stat()
    key = hashlib.sha256(
        f"{dist.root.resolve()}|{dist.python_version}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    ).hexdigest()[:16]
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache_dir / f"backends-{dist.python_version}-{key}"
    if (target / "python" / "triton_python_backend_stub").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".backends-", dir=cache_dir))
    try:
        for backend in dist.backends.iterdir():
            if not backend.is_dir():
                continue
            (work / backend.name).mkdir()
            for item in backend.iterdir():
                (work / backend.name / item.name).symlink_to(item.resolve())
        stub = work / "python" / "triton_python_backend_stub"
        shutil.copy2(dist.stub, stub)
        stub.chmod(0o755)
        work.chmod(0o755)
        try:
            work.rename(target)
        except OSError:  # another process won the race
            if not (target / "python" / "triton_python_backend_stub").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def server_environment(
    dist: TritonDistribution, base: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for tritonserver and its stubs (``LD_LIBRARY_PATH``, ``PATH``)."""
    env = dict(os.environ if base is None else base)
    libs = [str(dist.libs), str(libpython_dir())]
    if env.get("LD_LIBRARY_PATH"):
        libs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libs)
    env_bin = str(Path(sys.executable).parent)  # the venv's bin (not resolved: keep the venv)
    env["PATH"] = os.pathsep.join(p for p in (env_bin, env.get("PATH", "")) if p)
    env.setdefault("PYTHONNOUSERSITE", "1")
    return env


# --------------------------------------------------------------------------- ports


def free_ports(n: int = 1, host: str = HOST) -> list[int]:
    """``n`` distinct ports the OS reports free right now (all sockets held until all picked)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port(host: str = HOST) -> int:
    return free_ports(1, host)[0]


# --------------------------------------------------------------------------- models


def repository_models(
    repositories: Iterable[Path], config_name: str | None = None
) -> dict[str, Path]:
    """``{model name: model dir}`` over all roots; a name served twice is an error (Triton's)."""
    models: dict[str, Path] = {}
    for root in repositories:
        root = Path(root)
        if not root.is_dir():
            raise TritonServerError(f"model repository {root} does not exist")
        for model_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            if model_dir.name.startswith("."):
                continue
            configs = [model_dir / "config.pbtxt"]
            if config_name:
                configs.insert(0, model_dir / "configs" / f"{config_name}.pbtxt")
            if not any(c.is_file() for c in configs):
                continue
            if model_dir.name in models:
                raise TritonServerError(
                    f"model {model_dir.name!r} is in two repositories: {models[model_dir.name]} "
                    f"and {model_dir}"
                )
            models[model_dir.name] = model_dir
    return models


def _model_backend(model_dir: Path, config_name: str | None) -> str:
    """The backend a model directory's selected config names (``""`` if it cannot tell)."""
    from spam_trainer.triton import ModelRepositoryError, read_model_config

    path = model_dir / "configs" / f"{config_name}.pbtxt" if config_name else None
    if path is None or not path.is_file():
        path = model_dir / "config.pbtxt"
    try:
        config = read_model_config(path)
    except ModelRepositoryError:
        return ""  # let the server report it
    if config.backend:
        return config.backend
    return {"onnxruntime_onnx": "onnxruntime"}.get(config.platform, config.platform)


# --------------------------------------------------------------------------- server


class LocalTritonServer:
    """The bundled tritonserver as a child process, on loopback.

    Ports default (``None`` or ``0``) to free ones picked at start (Triton cannot report a port
    it chose itself); a start that loses the port race is retried with fresh ports. Readiness is
    ``/v2/health/ready`` under ``--strict-readiness=true`` plus each model's
    ``/v2/models/<name>/ready``. ``stop()`` sends SIGTERM (the server waits at most
    ``exit_timeout`` s for open client connections, then unloads the models), waits up to
    ``stop_timeout`` s, then SIGKILLs the server's whole process group, so no
    ``triton_python_backend_stub`` outlives it.
    """

    def __init__(
        self,
        model_repositories: Sequence[Path] | Path,
        *,
        http_port: int | None = None,
        grpc_port: int | None = None,
        metrics_port: int | None = None,
        model_config_name: str | None = "local",
        log_dir: Path | None = None,
        startup_timeout: float = 60.0,
        exit_timeout: int = 2,
        stop_timeout: float = 15.0,
        cache_dir: Path | None = None,
        log_verbose: int = 0,
        extra_args: Sequence[str] = (),
    ) -> None:
        if isinstance(model_repositories, str | Path):
            model_repositories = [model_repositories]
        self.model_repositories = [Path(p).resolve() for p in model_repositories]
        if not self.model_repositories:
            raise TritonServerError("no model repository given")
        self.model_config_name = model_config_name
        self._requested_ports = (http_port, grpc_port, metrics_port)
        self.http_port, self.grpc_port, self.metrics_port = 0, 0, 0
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="tritonserver-"))
        self.log_path = self.log_dir / LOG_FILE
        self.startup_timeout = startup_timeout
        self.exit_timeout = exit_timeout
        self.stop_timeout = max(stop_timeout, exit_timeout + 5.0)
        self.cache_dir = cache_dir
        self.log_verbose = log_verbose
        self.extra_args = list(extra_args)
        self.models: dict[str, Path] = repository_models(self.model_repositories, model_config_name)
        self._process: subprocess.Popen[bytes] | None = None
        self._shm_prefix = ""

    # ------------------------------------------------------------------ addresses

    @property
    def http_address(self) -> str:
        """``host:port`` (what ``tritonclient.http`` takes: no scheme)."""
        return f"{HOST}:{self.http_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.http_address}"

    @property
    def grpc_url(self) -> str:
        """``host:port`` gRPC target (what ``tritonclient.grpc`` and grpc channels take)."""
        return f"{HOST}:{self.grpc_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # ------------------------------------------------------------------ lifecycle

    def command(self, backend_dir: Path) -> list[str]:
        """The tritonserver command line for the current ports."""
        dist = find_distribution()
        args = [str(dist.binary)]
        args += [f"--model-repository={root}" for root in self.model_repositories]
        if self.model_config_name:
            args.append(f"--model-config-name={self.model_config_name}")
        args += [
            f"--backend-directory={backend_dir}",
            f"--backend-config=python,shm-region-prefix-name={self._shm_prefix}",
            "--model-control-mode=none",
            "--strict-readiness=true",
            "--exit-on-error=true",
            "--allow-gpu-metrics=false",
            "--pinned-memory-pool-byte-size=0",
            "--cuda-memory-pool-byte-size=0:0",
            f"--exit-timeout-secs={self.exit_timeout}",
            f"--http-address={HOST}",
            f"--http-port={self.http_port}",
            f"--grpc-address={HOST}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-address={HOST}",
            f"--metrics-port={self.metrics_port}",
            f"--log-verbose={self.log_verbose}",
            *self.extra_args,
        ]
        return args

    def start(self, *, wait: bool = True) -> LocalTritonServer:
        """Start the server (and by default wait until it and every model are ready)."""
        if self.is_alive():
            raise TritonServerError(f"tritonserver already running (pid {self.pid})")
        if not self.models:
            raise TritonServerError(f"no models in {[str(p) for p in self.model_repositories]}")
        dist = find_distribution()
        backend_dir = prepare_backend_directory(dist, self.cache_dir)
        available = {p.name for p in backend_dir.iterdir() if p.is_dir()}
        for name, model_dir in self.models.items():
            backend = _model_backend(model_dir, self.model_config_name)
            if backend and backend not in available:
                raise TritonServerError(
                    f"model {name!r} needs backend {backend!r}; the bundled tritonserver has "
                    f"only {sorted(available)} (select the python-backend config with "
                    "model_config_name='local')"
                )
        env = server_environment(dist)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        auto_ports = not all(self._requested_ports)
        for attempt in range(3 if auto_ports else 1):
            picked = iter(free_ports(3))
            self.http_port, self.grpc_port, self.metrics_port = (
                port or next(picked) for port in self._requested_ports
            )
            self._shm_prefix = f"spamtriton_{os.getpid()}_{uuid.uuid4().hex[:8]}_"
            self._launch(backend_dir, env)
            if not wait:
                return self
            try:
                self.wait_ready()
                return self
            except TritonServerError as exc:
                lost_port_race = any(s in str(exc) for s in _PORT_ERRORS)
                self.stop()
                if not (auto_ports and lost_port_race and attempt < 2):
                    raise
                log.warning("tritonserver could not bind its ports; retrying with new ones")
        raise AssertionError("unreachable")

    def _launch(self, backend_dir: Path, env: dict[str, str]) -> None:
        command = self.command(backend_dir)
        log.info("starting %s", " ".join(command))
        with self.log_path.open("ab") as log_file:
            log_file.write(f"\n$ {' '.join(command)}\n".encode())
            log_file.flush()
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.log_dir,
                start_new_session=True,  # own process group: stop() can reach the stubs
            )
        atexit.register(self.stop)

    def _get(self, path: str, timeout: float = 2.0) -> int:
        try:
            with urllib.request.urlopen(f"{self.http_url}{path}", timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0

    def is_ready(self) -> bool:
        """Server ready (strict: all models loaded) and every model of the repositories ready."""
        if not self.is_alive() or self._get("/v2/health/ready") != 200:
            return False
        return all(self.model_ready(name) for name in self.models)

    def model_ready(self, name: str, version: str | None = None) -> bool:
        path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/ready"
        return self._get(path) == 200

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until ready; ``TritonServerError`` with the log's tail on exit or timeout."""
        deadline = time.monotonic() + (self.startup_timeout if timeout is None else timeout)
        while time.monotonic() < deadline:
            if not self.is_alive():
                code = self._process.returncode if self._process else None
                raise TritonServerError(
                    f"tritonserver exited (code {code}) before it was ready; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self.is_ready():
                return
            time.sleep(0.1)
        raise TritonServerError(
            f"tritonserver not ready after {timeout or self.startup_timeout:.0f} s "
            f"(models {sorted(self.models)}); log {self.log_path}:\n{self.log_tail()}"
        )

    def is_alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, wait ``stop_timeout``, then SIGKILL the process group. Returns the exit code."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is None:
            return None
        pgid = process.pid  # start_new_session: the server leads its own group
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                log.warning("tritonserver did not stop in %.0f s: SIGKILL", self.stop_timeout)
        # whatever is left in the group (the server if it hung, stubs it did not reap)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        self._wait_group_gone(pgid)
        self._remove_shm()
        return process.returncode

    @staticmethod
    def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except (ProcessLookupError, PermissionError):
                return
            time.sleep(0.05)
        log.warning("processes of group %d still present after SIGKILL", pgid)

    def _remove_shm(self) -> None:
        shm = Path("/dev/shm")
        if self._shm_prefix and shm.is_dir():
            for leftover in shm.glob(f"{self._shm_prefix}*"):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def log_tail(self, lines: int = 15) -> str:
        """The log's errors (glog ``E`` lines, models UNAVAILABLE) and its last lines."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        all_lines = [line for line in text.splitlines() if line.strip() and line[0] != "+"]
        errors = [
            line
            for line in all_lines
            if (_GLOG_ERROR.match(line) and not any(s in line for s in _HARMLESS))
            or "UNAVAILABLE" in line
        ]
        tail = [line for line in all_lines[-lines:] if line not in errors]
        return "\n".join([*errors, "...", *tail] if errors else tail)

    def __enter__(self) -> LocalTritonServer:
        if not self.is_alive():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.is_alive() else "stopped"
        return f"LocalTritonServer({sorted(self.models)}, {self.http_url}, {state})"
