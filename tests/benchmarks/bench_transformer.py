"""Transformer latency and throughput through the real Triton, gRPC vs HTTP, real corpus e-mails.

Stack: two real model bundles (tests/utils/serving.py, trained on the point-in-time sender
reputation of a SQLite Feast repository), the bundled tritonserver (python backend, dynamic
batching) serving both, and the real ``spam-transformer`` entry point (one uvicorn worker, the
reputation from that repository's online store, default cache) per protocol. Load: ``wrk`` (C, one
connection per thread, so each thread's requests alternate strictly) with a Lua script that POSTs
one real message per request (raw RFC 822, rotating through the corpus sample) and times every
request itself with ``clock_gettime(CLOCK_MONOTONIC)`` through LuaJIT's FFI; the percentiles below
come from those per-request times, not from wrk's own (coordinated-omission-corrected) histogram.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

# the Lua script and runner are the gateway benchmark's (a path from BENCH_PATH, per-request timing)
from tests.benchmarks.bench_gateway import LUA, WRK, wrk
from tests.benchmarks.reputation_cost import REPUTATION_DEFAULTS
from tests.utils.paths import SHARED_CORPUS

DURATION_S = 8
WARMUP_S = 2
CLIENTS = (1, 16)
PROTOCOLS = ("grpc", "http")
MESSAGES_PER_ARCHIVE = 200


def online_reputation(feast_repo: Path):
    """An ``OnlineReputation`` on ``feast_repo`` set up as the transformer sets up its own
    (default cache and retry settings), its connection opened."""
    from spam_core.reputation.online import OnlineReputation

    reputation = OnlineReputation.from_repo(feast_repo, **REPUTATION_DEFAULTS)
    reputation.warm_up()
    return reputation


def _floor(bundle_dir: Path, messages: list[tuple[str, str]], feast_repo: Path) -> dict[str, float]:
    """In process, one core: parse + features (reputation from the online store, cached as
    the transformer caches) + onnxruntime, one e-mail at a time."""
    from spam_core.bundle import ModelBundle
    from spam_core.message import parse_raw

    bundle = ModelBundle.load(bundle_dir)
    reputation = online_reputation(feast_repo)

    def score(email_id: str, raw: str) -> None:
        record = parse_raw(raw, email_id)
        bundle.predict_matrix(bundle.extractor.transform_record(record, reputation)[None])

    for email_id, raw in messages[:100]:  # warm-up
        score(email_id, raw)
    times = []
    for _ in range(2):
        for email_id, raw in messages:
            started = time.perf_counter()
            score(email_id, raw)
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
    from spam_core.message import parse_raw
    from spam_local.tritonserver import LocalTritonServer
    from tests.utils.serving import (
        TRITON_MODELS,
        TransformerProcess,
        benchmark_stack,
        transformer_env,
    )

    if not Path(WRK).is_file():
        raise SystemExit(f"{WRK} not found (apt-get install wrk)")
    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-transformer-") as tmp_name:
        tmp = Path(tmp_name)
        feast_repo, bundles, repo, messages = benchmark_stack(corpus_dir, tmp, MESSAGES_PER_ARCHIVE)
        bodies = tmp / "bodies.jsonl"
        with bodies.open("w") as fh:
            for email_id, raw in messages:
                doc = {"environment": "production", "emails": [{"email_id": email_id, "raw": raw}]}
                fh.write(json.dumps(doc) + "\n")
        script = tmp / "bench.lua"
        script.write_text(LUA)
        results["floor"] = _floor(bundles["production"], messages, feast_repo)
        extractor = FeatureExtractor(_load_features(bundles["production"]))
        matrix = extractor.transform_records(
            [parse_raw(r, i) for i, r in messages[:200]], online_reputation(feast_repo)
        )
        with contextlib.ExitStack() as stack:
            triton = stack.enter_context(
                LocalTritonServer([repo], log_dir=tmp / "triton-log", startup_timeout=90)
            )
            results["triton"] = _triton_alone(triton, TRITON_MODELS["production"], matrix)
            servers = {
                protocol: stack.enter_context(
                    TransformerProcess(
                        transformer_env(bundles, triton, protocol, feast_repo),
                        tmp / f"transformer-{protocol}.log",
                    )
                )
                for protocol in PROTOCOLS
            }
            for server in servers.values():
                wrk(server.url, "/v1/predict", 4, WARMUP_S, script, bodies)
            # interleaved, so background load on a shared machine hits both protocols alike
            for clients in CLIENTS:
                for protocol, server in servers.items():
                    results[f"{protocol}_c{clients}"] = wrk(
                        server.url, "/v1/predict", clients, DURATION_S, script, bodies
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
