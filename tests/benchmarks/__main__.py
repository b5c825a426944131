"""``python -m tests.benchmarks [NAME ...]``: run the benchmarks and print their tables."""

from __future__ import annotations

import argparse

from tests.benchmarks import (
    bench_content_model,
    bench_drift,
    bench_features,
    bench_gateway,
    bench_load,
    bench_logflush,
    bench_score,
    bench_serving,
    bench_threshold_rule,
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
    "content_model": bench_content_model.main,
    "logflush": bench_logflush.main,
    "threshold_rule": bench_threshold_rule.main,
}
ON_REQUEST = ("content_model", "threshold_rule")
DEFAULT = [name for name in BENCHMARKS if name not in ON_REQUEST]
"""What runs without names; ``content_model`` (candidate content models out of fold, about
40 minutes on 2 cores) and ``threshold_rule`` (the threshold rule judged on held-out folds) only
when named."""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"default: {DEFAULT}; also: {', '.join(ON_REQUEST)}",
    )
    parser.add_argument("--corpus", help="corpus directory (default: ../shared copy)")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {list(BENCHMARKS)}")
    for name in args.names or DEFAULT:
        BENCHMARKS[name](args.corpus)


main()
