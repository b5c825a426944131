"""Gateway ``POST /predict`` latency and throughput on the real chain, real corpus e-mails.

Chain: the ``spam-gateway`` entry point (one uvicorn worker, access log off like the peer's)
→ the ``spam-transformer`` entry point (gRPC) → the bundled tritonserver (python backend,
dynamic batching) serving two real bundles (tests/utils/serving.py); the transformer reads
the sender reputation from a SQLite Feast repository holding the corpus's train history
(default cache). The transformer is also measured alone (``POST /v1/predict`` with one
e-mail), so the gateway's own share shows.

Load: ``wrk`` with one connection per thread (each thread's requests alternate strictly) and a
Lua script that POSTs one raw RFC 822 corpus message per request, rotating through the sample,
and times every request itself with ``clock_gettime(CLOCK_MONOTONIC)`` through LuaJIT's FFI;
p50/p99 come from those per-request times, not from wrk's coordinated-omission-corrected
histogram. CPU per request is read from ``/proc/<pid>/stat`` of each server around each run.
After the runs the gateway is stopped (SIGTERM) and its inference log is checked: rows
written == predictions answered.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tests.utils.paths import SHARED_CORPUS

WRK = "/usr/bin/wrk"
DURATION_S = 8
WARMUP_S = 2
CLIENTS = (1, 16)
MESSAGES_PER_ARCHIVE = 200
API_KEY = "spk_bench_viewer"

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } gw_bench_timespec;
int clock_gettime(int clk_id, gw_bench_timespec *tp);
]]
local ts = ffi.new("gw_bench_timespec")
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
limit = 0
first = 0
last = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 37)
  -- BENCH_TOTAL: exactly that many requests in all, spread over the threads (0: until -d)
  local total = tonumber(os.getenv("BENCH_TOTAL") or "0")
  local n = tonumber(os.getenv("BENCH_THREADS") or "1")
  if total > 0 then
    thread:set("limit", math.floor(total / n) + ((#threads < total % n) and 1 or 0))
  end
  table.insert(threads, thread)
end

function init(args)
  local headers = {["Content-Type"] = "application/json"}
  local key = os.getenv("BENCH_KEY")
  if key and key ~= "" then headers["X-API-Key"] = key end
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    requests[#requests + 1] = wrk.format("POST", os.getenv("BENCH_PATH"), headers, line)
  end
  index = offset % #requests
end

function request()
  index = index % #requests + 1
  started = now_us()
  if first == 0 then first = started end
  return requests[index]
end

function response(status, headers, body)
  last = now_us()
  lat[#lat + 1] = last - started
  if status ~= 200 then bad = bad + 1 end
  if limit > 0 and #lat >= limit then
    -- this thread is done: say so (one line per thread, O_APPEND) and stop its loop
    local f = io.open(os.getenv("BENCH_DONE_FILE"), "a")
    f:write("done\n")
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, reqs)
  local all = {}
  local non200 = 0
  local t0, t1 = math.huge, 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("lat")) do all[#all + 1] = v end
    non200 = non200 + thread:get("bad")
    if thread:get("first") > 0 then t0 = math.min(t0, thread:get("first")) end
    t1 = math.max(t1, thread:get("last"))
  end
  table.sort(all)
  local function pct(q) return all[math.max(1, math.ceil(q * #all))] end
  io.write(string.format(
    'BENCH {"n": %d, "p50_us": %.1f, "p99_us": %.1f, "max_us": %.1f, "seconds": %.3f, ' ..
    '"non200": %d, "socket_errors": %d}\n',
    #all, pct(0.5), pct(0.99), all[#all], (t1 - t0) / 1e6, non200,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wrk(
    url: str, path: str, clients: int, seconds: int, script: Path, bodies: Path, total: int = 0
) -> dict:
    """wrk for ``seconds``, or until exactly ``total`` requests were answered (``total`` > 0,
    ``seconds`` then only a bound: wrk's main thread sleeps its duration whatever its threads
    do, so once every thread has said it is done, SIGINT makes it report at once).
    ``seconds`` in the result: first request sent to last answer received."""
    command = [WRK, f"-t{clients}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(script), url]
    done_file = script.with_suffix(".done")
    done_file.write_text("")
    env = {
        **os.environ,
        "BENCH_BODIES": str(bodies),
        "BENCH_PATH": path,
        "BENCH_KEY": API_KEY,
        "BENCH_TOTAL": str(total),
        "BENCH_THREADS": str(clients),
        "BENCH_DONE_FILE": str(done_file),
    }
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as process:
        deadline = time.monotonic() + seconds + 60
        while total and process.poll() is None and time.monotonic() < deadline:
            if done_file.read_text().count("done") >= clients:
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.1)
        out, _ = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}")
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    result = json.loads(line.removeprefix("BENCH "))
    result["rps"] = result["n"] / result["seconds"]
    return result


def chain_gateway(transformer_url: str, tmp: Path, **env: str):
    """The benchmarks' gateway (not started): the viewer key :data:`API_KEY`, access log off
    (like the peer's), inference log on under ``tmp``; ``env``: more ``SPAM_GATEWAY_*``."""
    from spam_gateway.app.core.security import hash_key
    from tests.utils.gateway import GatewayProcess

    keys = json.dumps([{"name": "bench", "sha256": hash_key(API_KEY), "role": "viewer"}])
    return GatewayProcess(
        {
            "SPAM_GATEWAY_TRANSFORMER_URL": transformer_url,
            "SPAM_GATEWAY_API_KEYS": keys,
            "SPAM_GATEWAY_ACCESS_LOG": "false",
            "SPAM_GATEWAY_INFERENCE_LOG_URL": str(tmp / "inference-logs"),
            "SPAM_GATEWAY_INFERENCE_LOG_SPOOL_DIR": str(tmp / "spool"),
            **env,
        },
        tmp / "gateway.log",
    )


def _measure(url: str, path: str, clients: int, script: Path, bodies: Path, pids: dict) -> dict:
    wrk(url, path, clients, WARMUP_S, script, bodies)
    before = {name: _cpu_ticks(pid) for name, pid in pids.items()}
    result = wrk(url, path, clients, DURATION_S, script, bodies)
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    for name, pid in pids.items():
        used = (_cpu_ticks(pid) - before[name]) * tick_us
        result[f"{name}_cpu_us"] = used / max(result["n"], 1)
    return result


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


@dataclass
class Stack:
    """The running chain and the request bodies for it."""

    tmp: Path
    gateway: Any
    transformer: Any
    triton: Any
    script: Path
    gateway_bodies: Path
    transformer_bodies: Path
    messages: list

    @property
    def pids(self) -> dict[str, int]:
        return {
            "gateway": self.gateway.process.pid,
            "transformer": self.transformer.process.pid,
            "triton": self.triton.pid,
        }

    def rows(self) -> int:
        """Inference-log rows written (after the gateway stopped)."""
        from tests.utils.gateway import local_rows

        return sum(local_rows(self.tmp / "inference-logs").values())


@contextlib.contextmanager
def running_stack(corpus_dir: Path, tmp: Path, console: Console) -> Iterator[Stack]:
    """Ingest, two bundles, Triton, transformer and gateway; the gateway and transformer are
    stopped (SIGTERM, the inference log flushed) when the block ends."""
    from spam_local.tritonserver import LocalTritonServer
    from tests.utils.serving import TransformerProcess, benchmark_stack, transformer_env

    console.print("building the stack: ingest, two bundles, Triton, transformer, gateway…")
    feast_repo, bundles, repository, messages = benchmark_stack(
        corpus_dir, tmp, MESSAGES_PER_ARCHIVE
    )
    gateway_bodies = tmp / "gateway.jsonl"
    transformer_bodies = tmp / "transformer.jsonl"
    with gateway_bodies.open("w") as g, transformer_bodies.open("w") as t:
        for email_id, raw in messages:
            email = {"email_id": email_id, "raw": raw}
            g.write(json.dumps(email) + "\n")
            t.write(json.dumps({"environment": "staging", "emails": [email]}) + "\n")
    script = tmp / "bench.lua"
    script.write_text(LUA)

    with LocalTritonServer([repository], log_dir=tmp / "triton-log") as triton:
        transformer = TransformerProcess(
            transformer_env(bundles, triton, "grpc", feast_repo), tmp / "transformer.log"
        ).start()
        try:
            gateway = chain_gateway(transformer.url, tmp).start()
            try:
                yield Stack(
                    tmp,
                    gateway,
                    transformer,
                    triton,
                    script,
                    gateway_bodies,
                    transformer_bodies,
                    messages,
                )
            finally:
                gateway.stop()
        finally:
            transformer.stop()


def main(corpus: str | None = None) -> dict[str, dict]:
    import httpx

    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    console = Console(width=150)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp_name:
        tmp = Path(tmp_name)
        with running_stack(corpus_dir, tmp, console) as stack:
            messages = stack.messages
            for clients in CLIENTS:
                results[f"transformer alone c={clients}"] = _measure(
                    stack.transformer.url,
                    "/v1/predict",
                    clients,
                    stack.script,
                    stack.transformer_bodies,
                    stack.pids,
                )
                results[f"gateway /predict c={clients}"] = _measure(
                    stack.gateway.url,
                    "/predict",
                    clients,
                    stack.script,
                    stack.gateway_bodies,
                    stack.pids,
                )
            metrics = httpx.get(f"{stack.gateway.url}/metrics", timeout=10).text
            answered = metric(metrics, "spam_gateway_predictions_total")
            calls = metric(metrics, "spam_gateway_upstream_batch_size_count")
            time.sleep(0.5)
        rows = stack.rows()

    table = Table(title="gateway → transformer → Triton, POST /predict, real corpus e-mails")
    for column in ("target", "clients", "p50 ms", "p99 ms", "req/s", "non-200"):
        table.add_column(column, justify="right" if column != "target" else "left")
    for column in ("gateway CPU µs/req", "transformer CPU µs/req", "Triton CPU µs/req"):
        table.add_column(column, justify="right")
    for name, r in results.items():
        target, clients = name.rsplit(" c=", 1)
        table.add_row(
            target,
            clients,
            f"{r['p50_us'] / 1000:.2f}",
            f"{r['p99_us'] / 1000:.2f}",
            f"{r['rps']:.0f}",
            str(r["non200"] + r["socket_errors"]),
            f"{r['gateway_cpu_us']:.0f}" if target.startswith("gateway") else "-",
            f"{r['transformer_cpu_us']:.0f}",
            f"{r['triton_cpu_us']:.0f}",
        )
    console.print(table)
    merged = answered / calls if calls else 0.0
    console.print(
        f"{len(messages)} messages (raw RFC 822), {DURATION_S} s per run after {WARMUP_S} s "
        f"warm-up, {os.cpu_count()} CPUs shared by wrk and the three servers. Gateway: "
        f"{answered:.0f} predictions in {calls:.0f} transformer calls ({merged:.2f} e-mails "
        f"per call); inference log rows {rows} {'==' if rows == answered else '!='} "
        "predictions answered."
    )
    results["inference_log"] = {"rows": rows, "answered": answered, "upstream_calls": calls}
    return results


if __name__ == "__main__":
    main()
