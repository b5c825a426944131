"""Load: exactly 10,000 ``POST /predict`` at 32 concurrent clients through the real chain
(gateway → transformer → Triton, the stack of :mod:`bench_gateway`), then the gateway is
stopped and its inference log counted. The figure the hardening work must keep: 0 errors
and inference-log rows == 200 answers == requests sent.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from tests.benchmarks.bench_gateway import metric, running_stack, wrk
from tests.utils.paths import SHARED_CORPUS

REQUESTS = 10_000
CLIENTS = 32
BOUND_S = 600


def main(corpus: str | None = None) -> dict[str, float]:
    corpus_dir = Path(corpus) if corpus else SHARED_CORPUS
    console = Console(width=150)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp_name:
        with running_stack(corpus_dir, Path(tmp_name), console) as stack:
            console.print(f"{REQUESTS} requests at {CLIENTS} clients…")
            started = time.monotonic()
            r = wrk(
                stack.gateway.url,
                "/predict",
                CLIENTS,
                BOUND_S,
                stack.script,
                stack.gateway_bodies,
                total=REQUESTS,
            )
            wall = time.monotonic() - started
            metrics = httpx.get(f"{stack.gateway.url}/metrics", timeout=10).text
            answered = metric(metrics, "spam_gateway_predictions_total")
        rows = stack.rows()  # after SIGTERM: the spool flushed

    errors = r["non200"] + r["socket_errors"]
    table = Table(title=f"{REQUESTS:,} POST /predict at {CLIENTS} clients, real corpus e-mails")
    for column in ("sent", "non-200 + socket errors", "predictions", "log rows", "rows == 200s"):
        table.add_column(column, justify="right")
    for column in ("req/s", "p50 ms", "p99 ms", "max ms", "wall s"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{r['n']:,}",
        str(errors),
        f"{answered:,.0f}",
        f"{rows:,}",
        "yes" if rows == answered == r["n"] - errors else "NO",
        f"{r['rps']:.0f}",
        f"{r['p50_us'] / 1000:.1f}",
        f"{r['p99_us'] / 1000:.1f}",
        f"{r['max_us'] / 1000:.1f}",
        f"{wall:.1f}",
    )
    console.print(table)
    return {"sent": r["n"], "errors": errors, "answered": answered, "rows": rows, **r}


if __name__ == "__main__":
    main()
