"""Where the chain's CPU per request goes: ``python -m tests.benchmarks.profile_chain``.

The serving benchmark's chain (:mod:`tests.benchmarks.bench_serving`: gateway with API key and
inference log → transformer (gRPC) → the bundled Triton, the corpus e-mails, wrk with the
per-request timing script) under load at ``--clients`` clients, with two measures that hold on
a loaded machine where wall-clock percentiles do not:

* **CPU per request** of each server process (``/proc/<pid>/stat`` ticks / answered requests),
  for ``--rounds`` runs;
* **py-spy** (when ``py-spy`` is on ``PATH``: ``uvx py-spy`` or ``uv tool install py-spy``)
  sampling the gateway and the transformer during one more run: per process, the share of
  samples in which each function is on the stack (inclusive) and on top (self), and the share
  under the functions named with ``--focus``.

``--workdir DIR`` keeps the built stack (ingest, bundles, Triton repository) for later runs.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests.benchmarks.bench_gateway import _cpu_ticks, wrk
from tests.benchmarks.bench_serving import MESSAGES_PER_ARCHIVE, TRACK, _children, wrk_files
from tests.benchmarks.reputation_cost import REPUTATION_DEFAULTS
from tests.utils.paths import SHARED_CORPUS

FOCUS = (
    "AccessGate.__call__",
    "RequestContextMiddleware.__call__",
    "wrapped",  # the body-timeout / body-limit receive wrappers
    "FastLane.__call__",
    "Scorer.one",
    "TransformerClient.predict_one",
    "_finish",
    "log_many",
    "observe_request",
    "send_json",
    "decode",
    "preprocess",
    "_records",
    "astats",
    "_matrix",
    "predict",
    "postprocess",
    "infer",
)


def _stack(workdir: Path, corpus: Path):
    from tests.utils.serving import benchmark_stack

    state = workdir / "stack.json"
    if state.is_file():
        saved = json.loads(state.read_text())
        bundles = {k: Path(v) for k, v in saved["bundles"].items()}
        messages = [tuple(m) for m in saved["messages"]]
        return Path(saved["feast_repo"]), bundles, Path(saved["repository"]), messages
    feast_repo, bundles, repository, messages = benchmark_stack(
        corpus, workdir, MESSAGES_PER_ARCHIVE
    )
    state.write_text(
        json.dumps(
            {
                "feast_repo": str(feast_repo),
                "bundles": {k: str(v) for k, v in bundles.items()},
                "repository": str(repository),
                "messages": messages,
            }
        )
    )
    return feast_repo, bundles, repository, messages


def _variant(text: str) -> tuple[str, dict[str, str]]:
    """``name`` or ``name:KEY=VALUE,KEY=VALUE``: ``SPAM_GATEWAY_*`` / ``SPAM_TRANSFORMER_*``
    settings of that chain's gateway / transformer; any other variable goes to both (e.g.
    ``PYTHONPATH`` naming another checkout's ``images/*/src``, to compare code)."""
    name, _, pairs = text.partition(":")
    return name, dict(pair.split("=", 1) for pair in pairs.split(",") if pair)


@contextlib.contextmanager
def _chain(tmp: Path, bundles, triton, feast_repo: Path, env: dict[str, str]):
    """A transformer and a gateway in front of ``triton``, as the serving benchmark's chain,
    with the extra settings ``env``."""
    from tests.benchmarks.bench_gateway import chain_gateway
    from tests.utils.serving import TransformerProcess, transformer_env

    tmp.mkdir(parents=True, exist_ok=True)
    reputation_env = {f"reputation_{k}": v for k, v in REPUTATION_DEFAULTS.items()}
    transformer = TransformerProcess(
        {
            **transformer_env(bundles, triton, "grpc", feast_repo, **reputation_env),
            **{k: v for k, v in env.items() if not k.startswith("SPAM_GATEWAY_")},
        },
        tmp / "transformer.log",
    ).start()
    try:
        gateway = chain_gateway(
            transformer.url,
            tmp,
            SPAM_GATEWAY_DEFAULT_ENVIRONMENT=TRACK,
            **{k: v for k, v in env.items() if not k.startswith("SPAM_TRANSFORMER_")},
        ).start()
        try:
            yield gateway, transformer
        finally:
            gateway.stop()
    finally:
        transformer.stop()


def _pids(gateway, transformer, triton) -> dict[str, list[int]]:
    return {
        "gateway": [gateway.process.pid],
        "transformer": [transformer.process.pid],
        "triton": [triton.pid, *_children(triton.pid)],
    }


def _summary(collapsed: Path, focus: tuple[str, ...], top: int) -> dict:
    """py-spy's collapsed stacks → inclusive / self shares per function, and per focus."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    focused: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [f.split(" (", 1)[0] for f in stack.split(";")]
        total += n
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
        for name in focus:
            if any(f == name or f.endswith("." + name) or f.endswith(name) for f in frames):
                focused[name] += n
    return {
        "samples": total,
        "inclusive": [(k, v / total) for k, v in inclusive.most_common(top)],
        "self": [(k, v / total) for k, v in own.most_common(top)],
        "focus": {k: focused[k] / total for k in focus if total},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.profile_chain")
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--focus", nargs="*", default=list(FOCUS))
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument(
        "--variant",
        type=_variant,
        action="append",
        help="a chain to run, NAME[:SETTING=VALUE,...] (repeatable; default: one, 'chain'); "
        "the rounds alternate between them",
    )
    parser.add_argument("--no-spy", dest="spy", action="store_false", help="skip py-spy")
    args = parser.parse_args()
    args.variant = args.variant or [("chain", {})]

    from spam_local.tritonserver import LocalTritonServer

    with tempfile.TemporaryDirectory(prefix="profile-chain-") as tmp_name:
        tmp = Path(tmp_name)
        workdir = args.workdir or tmp
        workdir.mkdir(parents=True, exist_ok=True)
        feast_repo, bundles, repository, messages = _stack(workdir, args.corpus)
        bodies, script = wrk_files(tmp, messages)
        results: dict = {"rounds": {}}
        with (
            LocalTritonServer([repository], log_dir=tmp / "triton-log") as triton,
            ExitStack() as stack,
        ):
            chains = {
                name: stack.enter_context(_chain(tmp / name, bundles, triton, feast_repo, env))
                for name, env in args.variant
            }
            for name, (gateway, _) in chains.items():
                results["rounds"][name] = []
                wrk(gateway.url, "/predict", args.clients, 2, script, bodies)
            tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
            for _ in range(args.rounds):  # alternating: the machine's noise hits each alike
                for name, (gateway, transformer) in chains.items():
                    pids = _pids(gateway, transformer, triton)
                    before = {k: sum(_cpu_ticks(p) for p in v) for k, v in pids.items()}
                    r = wrk(gateway.url, "/predict", args.clients, args.seconds, script, bodies)
                    cpu = {
                        k: (sum(_cpu_ticks(p) for p in v) - before[k]) * tick_us / max(r["n"], 1)
                        for k, v in pids.items()
                    }
                    row = {
                        "n": r["n"],
                        "rps": r["rps"],
                        "p50_ms": r["p50_us"] / 1e3,
                        "p99_ms": r["p99_us"] / 1e3,
                        "non200": r["non200"],
                        "cpu_us_per_request": cpu,
                    }
                    results["rounds"][name].append(row)
                    print(name, json.dumps(row), flush=True)
            spy = shutil.which("py-spy") if args.spy else None
            if spy:
                name, (gateway, transformer) = next(iter(chains.items()))
                pids = _pids(gateway, transformer, triton)
                recorders = {}
                for process_name in ("gateway", "transformer"):
                    out = tmp / f"{process_name}.txt"
                    recorders[process_name] = (
                        subprocess.Popen(
                            [spy, "record", "--pid", str(pids[process_name][0]), "--rate", "250",
                             "--duration", str(args.seconds + 1), "--format", "raw",
                             "--nonblocking", "-o", str(out)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        ),
                        out,
                    )  # fmt: skip
                wrk(gateway.url, "/predict", args.clients, args.seconds, script, bodies)
                for process_name, (process, out) in recorders.items():
                    process.wait(60)
                    results[process_name] = _summary(out, tuple(args.focus), args.top)
                    if args.out:
                        shutil.copy(out, args.out.with_suffix(f".{process_name}.collapsed"))
    for name, rows in results["rounds"].items():
        print(
            f"{name}: median over {len(rows)} rounds: "
            f"p50 {statistics.median(r['p50_ms'] for r in rows):.2f} ms, "
            f"p99 {statistics.median(r['p99_ms'] for r in rows):.2f} ms, "
            f"req/s {statistics.median(r['rps'] for r in rows):.0f}, CPU µs/request "
            + ", ".join(
                f"{k} {statistics.median(r['cpu_us_per_request'][k] for r in rows):.0f}"
                for k in rows[0]["cpu_us_per_request"]
            )
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    for name in ("gateway", "transformer"):
        if name not in results:
            continue
        s = results[name]
        print(f"\n== {name}: {s['samples']} samples")
        print("focus (inclusive share):")
        for k, v in sorted(s["focus"].items(), key=lambda kv: -kv[1]):
            print(f"  {v:6.1%}  {k}")
        print("self (top):")
        for k, v in s["self"][:25]:
            print(f"  {v:6.1%}  {k}")


if __name__ == "__main__":
    main()
