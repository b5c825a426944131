"""``python -m tests.benchmarks [NAME ...]``: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse

from tests.benchmarks import (
    bench_drift,
    bench_features,
    bench_gateway,
    bench_load,
    bench_logflush,
    bench_score,
    bench_serving,
    bench_transformer,
)

BENCHMARKS = {
    "features": bench_features.main,
    "score": bench_score.main,
    "transformer": bench_transformer.main,
    "gateway": bench_gateway.main,
    "load": bench_load.main,
    "serving": bench_serving.main,
    "drift": bench_drift.main,
    "logflush": bench_logflush.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"default: all of {list(BENCHMARKS)}"
    )
    parser.add_argument("--corpus", help="corpus directory (default: ../shared copy)")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {list(BENCHMARKS)}")
    for name in args.names or list(BENCHMARKS):
        BENCHMARKS[name](args.corpus)


main()
