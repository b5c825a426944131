"""A small stand-in for the Kubeflow Pipelines API server (REST ``/apis/v2beta1``), enough for
``kfp.Client.create_run_from_pipeline_package`` and ``get_run``: health, experiments (list with
a display-name filter, create) and runs (create, get: each read of a run moves it one step along
``run_states``, the script of states its reads report, the last one repeated). It keeps every
request, answers as the real server does
(the shapes of ``kfp_server_api``'s models) and refuses a run the real server would refuse: no
pipeline spec, an unknown experiment, a runtime parameter the spec does not declare or of the
wrong type.

The KFP API server needs a Kubernetes cluster (Argo, MySQL, MinIO), which these machines do not
have; this server lets the real client code path — its request building, serialization and
response parsing — run against the compiled pipeline.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PARAMETER_TYPES = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
}


@dataclass
class KfpServer:
    multi_user: bool = False
    token: str | None = None
    """When set, every request must carry ``Authorization: Bearer <token>``."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_states: list[str] = field(default_factory=lambda: ["PENDING"])
    """What consecutive reads of a run report (``V2beta1RuntimeState`` names); the last repeats."""
    run_error: str = "task tune failed: exit status 1"
    """The error message a run that ends FAILED reports."""

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> KfpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # ------------------------------------------------------------------ API
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any):
        if path == "/apis/v2beta1/healthz" and method == "GET":
            return 200, {"commit_sha": "test", "tag_name": "2.5.0", "multi_user": self.multi_user}
        if path == "/apis/v2beta1/experiments" and method == "GET":
            found = list(self.experiments.values())
            for predicate in json.loads(query.get("filter", ["{}"])[0]).get("predicates", []):
                if predicate.get("key") == "display_name" and predicate.get("operation") in (
                    "EQUALS",
                    1,
                ):
                    found = [e for e in found if e["display_name"] == predicate["stringValue"]]
            return 200, {"experiments": found, "total_size": len(found)}
        if path == "/apis/v2beta1/experiments" and method == "POST":
            if not body.get("display_name"):
                return 400, _error("experiment display_name is empty")
            experiment = {
                "experiment_id": str(uuid.uuid4()),
                "display_name": body["display_name"],
                "description": body.get("description") or "",
                "namespace": body.get("namespace") or "",
                "created_at": _now(),
                "storage_state": "AVAILABLE",
            }
            self.experiments[experiment["experiment_id"]] = experiment
            return 200, experiment
        if path == "/apis/v2beta1/runs" and method == "POST":
            return self._create_run(body)
        if path.startswith("/apis/v2beta1/runs/") and method == "GET":
            return self._read_run(path.removeprefix("/apis/v2beta1/runs/"))
        return 404, _error(f"{method} {path}: not implemented here")

    def _create_run(self, body: dict[str, Any]):
        spec = body.get("pipeline_spec")
        if not spec:
            return 400, _error("a run needs pipeline_spec or pipeline_version_reference")
        if body.get("experiment_id") not in self.experiments:
            return 404, _error(f"experiment {body.get('experiment_id')!r} not found")
        # a package with a platform spec (kfp-kubernetes mounts): kfp.Client sends both,
        # {"pipeline_spec": ..., "platform_spec": ...}, as the KFP API takes them
        pipeline = spec.get("pipeline_spec", spec)
        declared = pipeline.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
        given = (body.get("runtime_config") or {}).get("parameters") or {}
        for name, value in given.items():
            if name not in declared:
                return 400, _error(f"parameter {name!r} is not an input of the pipeline")
            kind = declared[name]["parameterType"]
            if not isinstance(value, PARAMETER_TYPES[kind]) or (
                kind != "BOOLEAN" and isinstance(value, bool)
            ):
                return 400, _error(f"parameter {name!r}: {value!r} is not {kind}")
        run = {
            "run_id": str(uuid.uuid4()),
            "experiment_id": body["experiment_id"],
            "display_name": body.get("display_name") or "",
            "pipeline_spec": spec,
            "runtime_config": body.get("runtime_config") or {},
            "service_account": body.get("service_account") or "",
            "created_at": _now(),
            "state": "PENDING",
            "storage_state": "AVAILABLE",
        }
        self.runs[run["run_id"]] = run
        return 200, run

    def _read_run(self, run_id: str):
        run = self.runs.get(run_id)
        if run is None:
            return 404, _error(f"run {run_id!r} not found")
        reads = run.setdefault("_reads", 0)
        run["_reads"] = reads + 1
        state = self.run_states[min(reads, len(self.run_states) - 1)]
        run["state"] = state
        run.setdefault("state_history", [])
        if not run["state_history"] or run["state_history"][-1]["state"] != state:
            run["state_history"].append({"update_time": _now(), "state": state})
        if state in ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"):
            run.setdefault("finished_at", _now())
        if state == "FAILED":
            run["error"] = {"code": 2, "message": self.run_error}
        return 200, {k: v for k, v in run.items() if not k.startswith("_")}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _error(message: str) -> dict[str, Any]:
    return {"error_message": message, "code": 3, "message": message}


def _handler(server: KfpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            server.requests.append(
                {
                    "method": method,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            if server.token is not None and (
                self.headers.get("Authorization") != f"Bearer {server.token}"
            ):
                status, answer = 401, _error("missing or wrong bearer token")
            else:
                status, answer = server.handle(method, parts.path, parse_qs(parts.query), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
