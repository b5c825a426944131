"""``python -m tests.perf [NAME ...]``: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse

from tests.perf import bench_features

BENCHMARKS = {"features": bench_features.main}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.perf")
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="default: all")
    parser.add_argument("--corpus", help="corpus directory (default: ../shared copy)")
    args = parser.parse_args()
    for name in args.names or list(BENCHMARKS):
        BENCHMARKS[name](args.corpus)


main()
