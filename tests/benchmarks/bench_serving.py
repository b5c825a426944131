"""``POST /predict`` on the local platform against the floor and a one-process KServe peer.

One run, one table, the same real corpus messages (raw RFC 822 as ``{"email_id", "raw"}``) and
the same model bundle (the ``staging`` track, the gateway's default) everywhere:

* **floor** — in this process: spam_core parse + features + onnxruntime on one e-mail at a
  time (:func:`tests.benchmarks.bench_transformer._floor`), p50/p99 per e-mail;
* **peer** — what a user would deploy instead: one KServe 0.21 Python model server process
  (:mod:`tests.benchmarks.kserve_peer`: the same parse, features and ONNX model in process, KServe's
  latency and access logs off), called on its v1 route ``/v1/models/<name>:predict``;
* **chain** — the local platform: ``spam-gateway`` ``/predict`` (API key, inference log on) →
  ``spam-transformer`` (gRPC) → the bundled tritonserver (python backend, dynamic batching).

All three compute the same 529 features: the sender reputation block comes from the same SQLite
Feast repository (the corpus's train history, materialized), each through an
``OnlineReputation`` with the same cache and retry settings (the transformer's defaults). The
lookup's own cost — ``OnlineReputation.stats`` for one e-mail, cached and uncached, SQLite and
(when redis-server is installed) Redis — gets rows of its own
(:mod:`tests.benchmarks.reputation_cost`).

Load: ``wrk`` (C) with the per-request-timing Lua script of :mod:`tests.benchmarks.bench_gateway`
(one connection per thread, every request timed with ``CLOCK_MONOTONIC``; p50/p99 from those
times, not from wrk's coordinated-omission-corrected histogram), at 1 and 16 clients. After a
warm-up, peer and chain runs alternate for ``ROUNDS`` rounds, so background load on a shared
machine hits both alike; a row's p50/p99 are the medians over its rounds, its req/s is all
its requests over all its seconds. CPU per request is read from ``/proc/<pid>/stat`` of every
server process around each run (Triton: the server and its python-backend stub processes).

Goals (issue 4): chain throughput at 16 clients >= the peer's; chain p99 at 16 <= the peer's;
chain p50 at 1 client <= 4x the peer's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.benchmarks import reputation_cost
from tests.benchmarks.bench_gateway import LUA, WRK, _cpu_ticks, chain_gateway, wrk
from tests.benchmarks.bench_transformer import _floor
from tests.benchmarks.reputation_cost import REPUTATION_DEFAULTS
from tests.utils.paths import SHARED_CORPUS
from tests.utils.services import terminate

DURATION_S = 5
"""Seconds per round and row."""
ROUNDS = 3
WARMUP_S = 2
CLIENTS = (1, 16)
MESSAGES_PER_ARCHIVE = 200
TRACK = "staging"
PEER_MODEL = "spam-detector"
GOALS = {
    "throughput at 16 clients": ("chain req/s / peer req/s", ">=", 1.0),
    "p99 at 16 clients": ("chain p99 / peer p99", "<=", 1.0),
    "p50 at 1 client": ("chain p50 / peer p50", "<=", 4.0),
}


class PeerProcess:
    """:mod:`tests.benchmarks.kserve_peer` under KServe's own ModelServer, on a free port."""

    def __init__(self, bundle: Path, feast_repo: Path, tmp: Path) -> None:
        from spam_local.tritonserver import free_port

        self.port = free_port()
        self.repo = (
            Path(__file__).resolve().parents[2]
        )  # ``-m tests.benchmarks.kserve_peer`` from here
        module = [sys.executable, "-m", "tests.benchmarks.kserve_peer"]
        log_config = tmp / "kserve-log.json"
        subprocess.run(
            [*module, "--write_log_config", str(log_config)], cwd=self.repo, check=True, timeout=60
        )
        self.command = [
            *module,
            "--bundle",
            str(bundle),
            "--feast_repo",
            str(feast_repo),
            *(
                arg
                for key, value in REPUTATION_DEFAULTS.items()
                for arg in (f"--reputation_{key}", str(value))
            ),
            "--model_name",
            PEER_MODEL,
            "--http_port",
            str(self.port),
            "--enable_grpc",
            "false",
            "--enable_latency_logging",
            "false",
            "--log_config_file",
            str(log_config),
        ]
        self.log_path = tmp / "kserve-peer.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> PeerProcess:
        from tests.utils.serving import wait_http

        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.repo, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_http(
                f"{self.url}/v1/models/{PEER_MODEL}",
                timeout,
                alive=lambda: self.process.poll() is None,
            )
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}; log:\n{self.log_path.read_text()[-4000:]}") from None
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        terminate(process, 15)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Triton's python-backend stubs)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def wrk_files(tmp: Path, messages: list[tuple[str, str]]) -> tuple[Path, Path]:
    """What wrk sends to ``/predict``: the e-mails as JSON lines (raw RFC 822), and the
    per-request timing script."""
    bodies = tmp / "emails.jsonl"
    with bodies.open("w") as fh:
        for email_id, raw in messages:
            fh.write(json.dumps({"email_id": email_id, "raw": raw}) + "\n")
    script = tmp / "bench.lua"
    script.write_text(LUA)
    return bodies, script


def _ticks(pids: list[int]) -> int:
    return sum(_cpu_ticks(pid) for pid in pids)


def _round(url: str, path: str, clients: int, script: Path, bodies: Path, pids: dict) -> dict:
    """One timed wrk run; CPU ticks of each server (a list of processes) in ``pids``."""
    before = {name: _ticks(p) for name, p in pids.items()}
    result = wrk(url, path, clients, DURATION_S, script, bodies)
    result["cpu_ticks"] = {name: _ticks(p) - before[name] for name, p in pids.items()}
    return result


def _combine(rounds: list[dict]) -> dict:
    """A row: median p50/p99 over the rounds, req/s and CPU over all of them."""
    n = sum(r["n"] for r in rounds)
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    return {
        "n": n,
        "p50_us": statistics.median(r["p50_us"] for r in rounds),
        "p99_us": statistics.median(r["p99_us"] for r in rounds),
        "max_us": max(r["max_us"] for r in rounds),
        "rps": n / sum(r["seconds"] for r in rounds),
        "non200": sum(r["non200"] for r in rounds),
        "socket_errors": sum(r["socket_errors"] for r in rounds),
        "cpu_us": {
            name: sum(r["cpu_ticks"][name] for r in rounds) * tick_us / max(n, 1)
            for name in rounds[0]["cpu_ticks"]
        },
        "rounds": [{k: r[k] for k in ("n", "p50_us", "p99_us", "rps", "non200")} for r in rounds],
    }


def _ratios(results: dict) -> dict[str, dict]:
    peer16, chain16 = results["peer c=16"], results["chain c=16"]
    peer1, chain1 = results["peer c=1"], results["chain c=1"]
    values = {
        "throughput at 16 clients": chain16["rps"] / peer16["rps"],
        "p99 at 16 clients": chain16["p99_us"] / peer16["p99_us"],
        "p50 at 1 client": chain1["p50_us"] / peer1["p50_us"],
    }
    out = {}
    for goal, ratio in values.items():
        what, op, bound = GOALS[goal]
        met = ratio >= bound if op == ">=" else ratio <= bound
        out[goal] = {"ratio": ratio, "bound": bound, "op": op, "what": what, "met": met}
    return out


def main(corpus: str | None = None) -> dict:
    from spam_core.message import parse_raw
    from spam_local.tritonserver import LocalTritonServer
    from tests.utils.serving import (
        TransformerProcess,
        benchmark_stack,
        transformer_env,
    )

    if not Path(WRK).is_file():
        raise SystemExit(f"{WRK} not found (apt-get install wrk)")
    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    console = Console(width=150)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp_name:
        tmp = Path(tmp_name)
        console.print("building: ingest, two bundles, Triton repository, KServe peer, chain…")
        feast_repo, bundles, repository, messages = benchmark_stack(
            corpus_dir, tmp, MESSAGES_PER_ARCHIVE
        )
        bodies, script = wrk_files(tmp, messages)

        results["floor"] = _floor(bundles[TRACK], messages, feast_repo)
        results["reputation"] = reputation_cost.all_lookup_costs(
            tmp / "dataset", feast_repo, [parse_raw(raw, i) for i, raw in messages], tmp
        )

        peer = PeerProcess(bundles[TRACK], feast_repo, tmp).start()
        try:
            with LocalTritonServer([repository], log_dir=tmp / "triton-log") as triton:
                # the same reputation settings as the peer's (the defaults), spelled out
                reputation_env = {f"reputation_{k}": v for k, v in REPUTATION_DEFAULTS.items()}
                transformer = TransformerProcess(
                    transformer_env(bundles, triton, "grpc", feast_repo, **reputation_env),
                    tmp / "transformer.log",
                ).start()
                gateway = chain_gateway(
                    transformer.url, tmp, SPAM_GATEWAY_DEFAULT_ENVIRONMENT=TRACK
                ).start()
                try:
                    targets = {
                        "peer": (
                            peer.url,
                            f"/v1/models/{PEER_MODEL}:predict",
                            {"peer": [peer.process.pid]},
                        ),
                        "chain": (
                            gateway.url,
                            "/predict",
                            {
                                "gateway": [gateway.process.pid],
                                "transformer": [transformer.process.pid],
                                "triton": [triton.pid, *_children(triton.pid)],
                            },
                        ),
                    }
                    for clients in CLIENTS:
                        rounds: dict[str, list[dict]] = {name: [] for name in targets}
                        for url, path, _ in targets.values():
                            wrk(url, path, clients, WARMUP_S, script, bodies)
                        for _ in range(ROUNDS):  # alternate: the machine's noise hits both
                            for name, (url, path, pids) in targets.items():
                                rounds[name].append(
                                    _round(url, path, clients, script, bodies, pids)
                                )
                        for name, runs in rounds.items():
                            results[f"{name} c={clients}"] = _combine(runs)
                    time.sleep(0.2)
                finally:
                    gateway.stop()
                    transformer.stop()
        finally:
            peer.stop()

    results["ratios"] = _ratios(results)
    _print(console, results, len(messages))
    return results


def _print(console: Console, results: dict, n_messages: int) -> None:
    table = Table(
        title=f"POST /predict vs a one-process KServe peer: {n_messages} real corpus e-mails "
        f"(raw RFC 822), {TRACK} bundle, wrk + Lua per-request timing"
    )
    for column in ("target", "clients", "p50 ms", "p99 ms", "req/s", "non-200", "CPU µs/req"):
        table.add_column(column, justify="left" if column == "target" else "right")
    floor = results["floor"]
    table.add_row(
        "floor: parse + features + onnxruntime in process",
        "1",
        f"{floor['p50_us'] / 1e3:.3f}",
        f"{floor['p99_us'] / 1e3:.3f}",
        f"{floor['rps']:,.0f}",
        "-",
        f"{1e6 / floor['rps']:.0f}",
    )
    for store, lookups in results["reputation"].items():
        for state in ("uncached", "cached"):
            r = lookups[state]
            table.add_row(
                f"  of which: reputation lookup, {store}, {state}",
                "1",
                f"{r['p50_us'] / 1e3:.3f}",
                f"{r['p99_us'] / 1e3:.3f}",
                "-",
                "-",
                f"{r['p50_us']:.0f}",
            )
    names = {
        "peer": "peer: KServe 0.21 model server, v1 predict",
        "chain": "chain: gateway → transformer (gRPC) → Triton",
    }
    for clients in CLIENTS:
        for target in ("peer", "chain"):
            r = results[f"{target} c={clients}"]
            cpu = r["cpu_us"]
            detail = " + ".join(f"{v:.0f}" for v in cpu.values())
            total = f"{sum(cpu.values()):.0f}" + (f" ({detail})" if len(cpu) > 1 else "")
            table.add_row(
                names[target],
                str(clients),
                f"{r['p50_us'] / 1e3:.2f}",
                f"{r['p99_us'] / 1e3:.2f}",
                f"{r['rps']:,.0f}",
                str(int(r["non200"] + r["socket_errors"])),
                total,
            )
    console.print(table)
    goals = Table(title="goals (issue 4): chain against the peer")
    for column in ("goal", "ratio", "target", "met"):
        goals.add_column(column, justify="left" if column == "goal" else "right")
    for goal, g in results["ratios"].items():
        goals.add_row(
            f"{goal} ({g['what']})",
            f"{g['ratio']:.2f}",
            f"{g['op']} {g['bound']:g}",
            "yes" if g["met"] else "NO",
        )
    console.print(goals)
    console.print(
        f"{os.cpu_count()} CPUs shared by wrk and the servers; chain CPU = gateway + transformer "
        f"+ Triton (server and python-backend stubs); {ROUNDS} alternating rounds of "
        f"{DURATION_S} s per row after {WARMUP_S} s of warm-up (p50/p99: median of the rounds). "
        "Floor: req/s = 1 / mean time, CPU = mean time. Reputation lookup: "
        "OnlineReputation.stats of one e-mail (sender + domain), in process, p50/p99 over the "
        "benchmark's e-mails; uncached = cache off (one online-store read per e-mail), cached = "
        f"both entities in the {REPUTATION_DEFAULTS['cache_ttl_s']:g} s cache; its CPU column "
        "is the p50."
    )


if __name__ == "__main__":
    main()
