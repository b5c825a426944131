"""Transformer latency and throughput through the real Triton, gRPC vs HTTP, real corpus e-mails.

Stack: two real model bundles (tests/transformer/stack.py), the bundled tritonserver (python
backend, dynamic batching) serving both, and the real ``spam-transformer`` entry point (one
uvicorn worker) per protocol. Load: ``wrk`` (C, one connection per thread, so each thread's
requests alternate strictly) with a Lua script that POSTs one real message per request (raw
RFC 822, rotating through the corpus sample) and times every request itself with
``clock_gettime(CLOCK_MONOTONIC)`` through LuaJIT's FFI; the percentiles below come from those
per-request times, not from wrk's own (coordinated-omission-corrected) histogram.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.conftest import SHARED_CORPUS

WRK = "/usr/bin/wrk"
DURATION_S = 8
WARMUP_S = 2
CLIENTS = (1, 16)
PROTOCOLS = ("grpc", "http")
MESSAGES_PER_ARCHIVE = 200

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end

local requests = {}
local index = 0
local started = 0
lat = {}
bad = 0
offset = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 37)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    requests[#requests + 1] = wrk.format(
      "POST", "/v1/predict", {["Content-Type"] = "application/json"}, line)
  end
  index = offset % #requests
end

function request()
  index = index % #requests + 1
  started = now_us()
  return requests[index]
end

function response(status, headers, body)
  lat[#lat + 1] = now_us() - started
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, reqs)
  local all = {}
  local non200 = 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("lat")) do all[#all + 1] = v end
    non200 = non200 + thread:get("bad")
  end
  table.sort(all)
  local function pct(q) return all[math.max(1, math.ceil(q * #all))] end
  io.write(string.format(
    'BENCH {"n": %d, "p50_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "seconds": %.3f, ' ..
    '"non200": %d, "socket_errors": %d}\n',
    #all, pct(0.5), pct(0.99), all[#all], summary.duration / 1e6, non200,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _wrk(url: str, clients: int, seconds: int, script: Path, bodies: Path) -> dict[str, float]:
    command = [WRK, f"-t{clients}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script), url]
    out = subprocess.run(
        command,
        env={**os.environ, "BENCH_BODIES": str(bodies)},
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result = json.loads(line.removeprefix("BENCH "))
    result["rps"] = result["n"] / result["seconds"]
    return result


def _floor(bundle_dir: Path, messages: list[tuple[str, str]]) -> dict[str, float]:
    """In process, one core: parse + features + onnxruntime, one e-mail at a time."""
    from spam_core.bundle import ModelBundle
    from spam_core.message import parse_raw

    bundle = ModelBundle.load(bundle_dir)
    for email_id, raw in messages[:100]:  # warm-up
        bundle.predict_matrix(bundle.extractor.transform_record(parse_raw(raw, email_id))[None])
    times = []
    for _ in range(2):
        for email_id, raw in messages:
            started = time.perf_counter()
            bundle.predict_matrix(bundle.extractor.transform_record(parse_raw(raw, email_id))[None])
            times.append(time.perf_counter() - started)
    return _summary(times)


def _triton_alone(triton, model: str, matrix) -> dict[str, float]:
    """One client, gRPC, one feature row per call: what Triton itself costs per request."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(triton.grpc_url)
    outputs = [grpcclient.InferRequestedOutput("probabilities")]
    times = []
    for i in range(1500):
        row = matrix[i % len(matrix)][None]
        features = grpcclient.InferInput("features", list(row.shape), "FP32")
        features.set_data_from_numpy(row)
        started = time.perf_counter()
        client.infer(model, [features], outputs=outputs)
        if i >= 100:
            times.append(time.perf_counter() - started)
    client.close()
    return _summary(times)


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "n": len(ordered),
        "p50_us": ordered[len(ordered) // 2] * 1e6,
        "p99_us": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e6,
        "max_us": ordered[-1] * 1e6,
        "rps": len(ordered) / sum(ordered),
        "non200": 0,
        "socket_errors": 0,
    }


def main(corpus: str | None = None) -> dict:
    from spam_core.features import FeatureExtractor
    from spam_core.ingest import ingest
    from spam_core.message import parse_raw
    from spam_trainer.tritonserver import LocalTritonServer
    from tests.transformer.stack import (
        TRITON_MODELS,
        TransformerProcess,
        build_bundles,
        corpus_messages,
        transformer_env,
        write_triton_repository,
    )

    if not Path(WRK).is_file():
        raise SystemExit(f"{WRK} not found (apt-get install wrk)")
    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transformer-") as tmp_name:
        tmp = Path(tmp_name)
        ingest(corpus_dir, tmp / "dataset")
        bundles = build_bundles(tmp / "dataset", tmp / "bundles")
        repo = write_triton_repository(bundles, tmp / "triton")
        messages = list(corpus_messages(corpus_dir, MESSAGES_PER_ARCHIVE))
        bodies = tmp / "bodies.jsonl"
        with bodies.open("w") as fh:
            for email_id, raw in messages:
                doc = {"environment": "production", "emails": [{"email_id": email_id, "raw": raw}]}
                fh.write(json.dumps(doc) + "\n")
        script = tmp / "bench.lua"
        script.write_text(LUA)
        results["floor"] = _floor(bundles["production"], messages)
        extractor = FeatureExtractor(_load_features(bundles["production"]))
        matrix = extractor.transform_records([parse_raw(r, i) for i, r in messages[:200]])
        with contextlib.ExitStack() as stack:
            triton = stack.enter_context(
                LocalTritonServer([repo], log_dir=tmp / "triton-log", startup_timeout=90)
            )
            results["triton"] = _triton_alone(triton, TRITON_MODELS["production"], matrix)
            servers = {
                protocol: stack.enter_context(
                    TransformerProcess(
                        transformer_env(bundles, triton, protocol),
                        tmp / f"transformer-{protocol}.log",
                    )
                )
                for protocol in PROTOCOLS
            }
            for server in servers.values():
                _wrk(f"{server.url}/v1/predict", 4, WARMUP_S, script, bodies)
            # interleaved, so background load on a shared machine hits both protocols alike
            for clients in CLIENTS:
                for protocol, server in servers.items():
                    results[f"{protocol}_c{clients}"] = _wrk(
                        f"{server.url}/v1/predict", clients, DURATION_S, script, bodies
                    )
        shutil.rmtree(tmp / "dataset", ignore_errors=True)

    table = Table(
        title=f"transformer /v1/predict: {len(messages)} real corpus e-mails (raw RFC 822), one "
        f"per request, production track, bundled Triton (python backend); wrk + Lua "
        f"per-request timing, {DURATION_S} s per row"
    )
    for column in ("path", "protocol", "clients", "p50 ms", "p99 ms", "max ms", "req/s", "non-200"):
        table.add_column(column, justify="left" if column in ("path", "protocol") else "right")

    def row(path: str, protocol: str, clients: str, r: dict[str, float]) -> None:
        table.add_row(
            path,
            protocol,
            clients,
            f"{r['p50_us'] / 1e3:.2f}",
            f"{r['p99_us'] / 1e3:.2f}",
            f"{r['max_us'] / 1e3:.1f}",
            f"{r['rps']:,.0f}",
            str(int(r["non200"] + r["socket_errors"])),
        )

    for clients in CLIENTS:
        for protocol in PROTOCOLS:
            row("transformer -> Triton", protocol, str(clients), results[f"{protocol}_c{clients}"])
    row("floor: parse+features+onnxruntime in process", "-", "1", results["floor"])
    row("Triton alone, one feature row per call", "grpc", "1", results["triton"])
    Console(width=140).print(table)
    return results


def _load_features(bundle_dir: Path):
    from spam_core import artifacts

    return artifacts.load(bundle_dir / "features.json")


if __name__ == "__main__":
    main()
