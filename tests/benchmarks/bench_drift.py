"""The drift job on a synthetic inference log of 1,000,000 rows: wall time and peak memory.

Goal (issue 14): the whole job — read, statistics on every row, JSON report, Evidently HTML
(on a sample), table — in at most 60 s and 2 GB peak memory on the 2-core machine.

The log: 1,000,000 rows of one environment and model version over 24 hours, written like
the gateway flushes (files of 1,000 rows per hour partition, zstd), with a mild shift that
stays below the thresholds (every signal is tested in full either way). The job runs as the
real ``spam-drift`` entry point in a subprocess under ``/usr/bin/time`` (its own peak RSS).
Run: ``python -m tests.benchmarks drift`` (``--rows N`` with
``python -m tests.benchmarks.bench_drift``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

GOAL_S = 60.0
GOAL_MB = 2048.0
ROWS = 1_000_000
START = datetime(2026, 12, 1, tzinfo=UTC)
HOURS = 24


def generate(root: Path, rows: int) -> Path:
    """Write the log under ``root/logs``; the baseline's path."""
    from tests.utils.inference_logs import log_table, make_baseline, write_baseline, write_log

    rng = np.random.default_rng(7)
    per_hour = rows // HOURS
    for h in range(HOURS):
        n = per_hour + (rows - per_hour * HOURS if h == HOURS - 1 else 0)
        table = log_table(n, START + timedelta(hours=h), timedelta(hours=1), rng, shift=0.05)
        write_log(root / "logs", table, "production")
    return write_baseline(root / "drift_baseline.json", make_baseline())


def run_job(root: Path, baseline: Path) -> tuple[float, float | None, dict]:
    cmd = [
        "spam-drift",
        "--environment",
        "production",
        "--inference-log",
        str(root / "logs"),
        "--output",
        str(root / "reports"),
        "--start",
        START.isoformat(),
        "--end",
        (START + timedelta(hours=HOURS)).isoformat(),
        "--baseline",
        f"1={baseline}",
        "--model-ref-template",
        "",
        "--json",
    ]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    rss_file = root / "rss"
    if timer:
        cmd = [timer, "-f", "%M", "-o", str(rss_file), *cmd]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"spam-drift exited {proc.returncode}: {proc.stderr[-2000:]}")
    peak_mb = int(rss_file.read_text().split()[-1]) / 1024 if timer else None
    return seconds, peak_mb, json.loads(proc.stdout)


def main(corpus: str | None = None, rows: int = ROWS) -> dict[str, float]:
    del corpus  # synthetic log: no corpus needed
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        baseline = generate(root, rows)
        gen_s = time.perf_counter() - started
        log_mb = sum(p.stat().st_size for p in (root / "logs").rglob("*.parquet")) / 2**20
        seconds, peak_mb, report = run_job(root, baseline)
        html_mb = sum(p.stat().st_size for p in (root / "reports").rglob("*.html")) / 2**20

    table = Table(title=f"drift job on a synthetic inference log ({rows:,} rows, 2 cores)")
    for col in ("measure", "value", "goal"):
        table.add_column(col)
    table.add_row(
        "rows read / files / partitions",
        f"{report['rows']:,} / {report['files_read']} / {report['partitions_read']}",
        "",
    )
    table.add_row("log size on disk", f"{log_mb:.0f} MB (zstd)", "")
    table.add_row("generation (not timed in the job)", f"{gen_s:.1f} s", "")
    ok_s = "✅" if seconds <= GOAL_S else "❌"
    table.add_row(
        "whole job, wall (process start to exit)", f"{seconds:.1f} s", f"≤ {GOAL_S:.0f} s {ok_s}"
    )
    table.add_row(
        "  of which run_drift (read, stats, HTML, JSON)", f"{report['duration_s']:.1f} s", ""
    )
    if peak_mb is not None:
        ok_m = "✅" if peak_mb <= GOAL_MB else "❌"
        table.add_row("peak RSS", f"{peak_mb:.0f} MB", f"≤ {GOAL_MB:.0f} MB {ok_m}")
    table.add_row("HTML report (Evidently, 5,000-row sample)", f"{html_mb:.1f} MB", "")
    version = report["versions"][0]
    table.add_row(
        "verdict",
        f"drift={report['drift_detected']} score={version['drift_score']:.2f} "
        f"drifted {len(version['drifted_features'])}/{len(version['features'])}",
        "",
    )
    Console().print(table)
    return {"seconds": seconds, "peak_mb": peak_mb or 0.0, "rows": float(report["rows"])}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.bench_drift")
    parser.add_argument("--rows", type=int, default=ROWS)
    main(rows=parser.parse_args().rows)
