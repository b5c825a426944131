"""Inference-log flushes against the gateway's event loop: ``python -m tests.benchmarks logflush``.

The gateway's request path hands each answered prediction to the
:class:`~spam_gateway.app.inference_log.InferenceLogger` (``log_many``, on the event loop); the
logger's writer thread turns every ``batch_size`` records into a Parquet file. Whatever the
writer does while it holds the interpreter lock (GIL), the event loop cannot run: a request
that is ready waits. This benchmark measures that, in one process, on the real logger writing
to a local directory.

Records: corpus messages parsed and featurized (the named features the transformer sends; no
sender history), shaped as the gateway's ``Scorer`` logs them, their features passed through
orjson as they come from the transformer's JSON.

1. **GIL held per flush.** ``ROUNDS`` flushes of ``BATCH`` records each, with the switch
   interval raised to 10 s so that no thread is made to give the GIL up: the writer holds it
   exactly as long as its code does. The main thread stamps the clock, giving the GIL up
   between stamps (``time.sleep(0)``); a stretch between two stamps that falls in a flush is
   a hold of the writer's. Per flush: the longest hold (what a request that becomes ready
   then waits at most; with the default 5 ms switch interval a longer one is cut at about
   5 ms) and the sum of the holds. The floor: the same probe while another thread keeps a
   core busy as long without the GIL (hashing): on a machine whose cores are taken by other
   work the probe also waits for a core, and that is not the writer's GIL.
2. **Loop stall while serving.** A uvloop event loop (as the gateway runs) with a producer
   task that calls ``log_many`` with one record at a time, ``RATE`` records/s (a busy
   gateway), and a probe task that sleeps 1 ms and records how much later than that it wakes
   (loop lag). Once without a logger (the floor), once with it (``batch_size`` ``BATCH``, a
   flush every ``BATCH / RATE`` s). Reported: loop lag p50/p99/max over all ticks, over the
   ticks that overlap a flush and over the others (the same run's floor), the writer thread's
   CPU per flush and its capacity (records per writer-CPU second).
3. **CPU alone** per ``BATCH`` records: ``spam_core.inference_log.to_table`` (record dicts →
   Arrow table; the batch job's path), Parquet encoding, and ``log_many`` called with one
   record at a time (the request path's share, paid on the event loop).

Wall-clock figures are only as quiet as the machine: compare runs on the same machine, and
read them against the floor rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from spam_core import inference_log
from spam_core.features.engineered import engineered_features
from spam_core.features.reputation import no_history, reputation_features
from spam_core.features.spec import NAMED_FEATURES
from spam_core.message import parse_raw
from spam_gateway.app.inference_log import InferenceLogger, LogStore
from tests.utils.paths import SHARED_CORPUS

ARCHIVES = ("20030228_easy_ham.tar.bz2", "20030228_spam.tar.bz2")
MESSAGES = 1000
BATCH = 1000
ROUNDS = 20
RATE = 4000  # records/s handed to the logger: about the gateway's throughput at 16 clients
SERVE_S = 8.0
TICK_S = 0.001
SWITCH_INTERVAL_S = 10.0


def corpus_records(corpus: Path, n: int = MESSAGES) -> list[dict[str, Any]]:
    """``n`` records as the gateway's ``Scorer`` logs them (timestamps set when logged)."""
    raws: list[bytes] = []
    for name in ARCHIVES:
        with tarfile.open(corpus / name) as tar:
            for member in tar:
                if member.isfile() and not member.name.endswith("cmds"):
                    raws.append(tar.extractfile(member).read())  # type: ignore[union-attr]
                if len(raws) >= n * (ARCHIVES.index(name) + 1) // len(ARCHIVES):
                    break
    reputation = reputation_features(no_history(1))[0].tolist()
    records = []
    for i, raw in enumerate(raws):
        email = parse_raw(raw)
        values = engineered_features(email) + reputation
        # as the gateway receives them: the transformer's JSON, decoded by orjson
        features = orjson.loads(orjson.dumps(dict(zip(NAMED_FEATURES, values, strict=True))))
        p = (i * 7919 % 1000) / 1000
        records.append(
            {
                "timestamp": 0.0,
                "correlation_id": f"{i:032x}",
                "route": "predict",
                "environment": "production",
                "model_name": "spam-detector",
                "model_version": "7",
                "email_id": email.email_id,
                "spam_probability": p,
                "prediction": "spam" if p >= 0.5 else "ham",
                "confidence": "high" if abs(p - 0.5) > 0.3 else "medium",
                "threshold": 0.5,
                "latency_ms": 1.25 + i % 13 / 10,
                "features": features,
            }
        )
    return records


def _stamped(records: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    now = time.time()
    return [{**records[i % len(records)], "timestamp": now} for i in range(n)]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _logger(tmp: Path, name: str, **options: Any) -> InferenceLogger:
    logger = InferenceLogger(
        LogStore(str(tmp / name / "store")),
        tmp / name / "spool",
        **{"batch_size": BATCH, "flush_interval_s": 3600.0, **options},
    )
    logger.start()
    return logger


def _time_flushes(logger: InferenceLogger) -> list[tuple[float, float, float]]:
    """Record (start, end, writer CPU s) of each flush the writer does."""
    spans: list[tuple[float, float, float]] = []
    flush = logger._flush

    def timed() -> None:
        cpu, started = time.thread_time(), time.perf_counter()
        flush()
        spans.append((started, time.perf_counter(), time.thread_time() - cpu))

    logger._flush = timed  # type: ignore[method-assign]
    return spans


def _probe_gil(until: Callable[[], bool]) -> list[tuple[float, float]]:
    """Stamp the clock in this thread, giving the GIL up between stamps, until ``until()``;
    the (start, end) of each stretch between two stamps. With the switch interval raised, a
    thread that takes the GIL keeps it until its own code gives it up, so a long stretch is
    exactly another thread's hold (or the OS running something else: see the idle floor)."""
    stretches = []
    last = time.perf_counter()
    while not until():
        time.sleep(0)  # gives the GIL up; takes it back once the holder lets go
        now = time.perf_counter()
        stretches.append((last, now))
        last = now
    return stretches


_BURN = bytes(256 * 1024)


def _burn_without_gil(seconds: float) -> None:
    """Keep a core busy for ``seconds`` without the GIL (hashlib releases it for large
    buffers): what the probe sees of a writer that would need no GIL at all."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        hashlib.sha256(_BURN).digest()


def _holds(stretches: list[tuple[float, float]], start: float, end: float) -> list[float]:
    return [min(b, end) - max(a, start) for a, b in stretches if b > start and a < end]


def gil_per_flush(records: list[dict[str, Any]], tmp: Path) -> dict[str, Any]:
    logger = _logger(tmp, "gil", batch_size=10 * BATCH)
    spans = _time_flushes(logger)
    longest, held, idle_longest, idle_held = [], [], [], []
    interval = sys.getswitchinterval()
    try:
        logger.flush()  # the first flush after start-up is not measured
        spans.clear()
        for _ in range(ROUNDS):
            logger.log_many(_stamped(records, BATCH))
            flusher = threading.Thread(target=logger.flush)
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            try:
                flusher.start()
                stretches = _probe_gil(lambda: not flusher.is_alive())  # noqa: B023
                start, end, _cpu = spans[-1]
                burner = threading.Thread(target=_burn_without_gil, args=(end - start,))
                burner.start()
                idle = _probe_gil(lambda: not burner.is_alive())  # noqa: B023
            finally:
                sys.setswitchinterval(interval)
            flusher.join()
            burner.join()
            # the probe's own turn (a stretch with nobody else holding the GIL)
            turn = statistics.median(b - a for a, b in idle)
            holds = _holds(stretches, start, end)
            longest.append(max(holds, default=0.0))
            held.append(sum(max(0.0, h - turn) for h in holds))
            idle_holds = [b - a for a, b in idle]
            idle_longest.append(max(idle_holds))
            idle_held.append(sum(max(0.0, h - turn) for h in idle_holds))
            time.sleep(0.02)
    finally:
        logger.close()
    written = logger.stats()["records_written"]
    if written != ROUNDS * BATCH:
        raise RuntimeError(f"the logger wrote {written} records, {ROUNDS * BATCH} were logged")
    return {
        "flush_ms": statistics.median(e - s for s, e, _ in spans) * 1e3,
        "writer_cpu_ms": statistics.median(c for _, _, c in spans) * 1e3,
        "held_ms": statistics.median(held) * 1e3,
        "held_p90_ms": _pct(held, 0.9) * 1e3,
        "longest_ms": statistics.median(longest) * 1e3,
        "longest_p90_ms": _pct(longest, 0.9) * 1e3,
        "idle_held_ms": statistics.median(idle_held) * 1e3,
        "idle_longest_ms": statistics.median(idle_longest) * 1e3,
        "idle_longest_p90_ms": _pct(idle_longest, 0.9) * 1e3,
    }


async def _serve(records: list[dict[str, Any]], log: Callable[[list[dict]], None] | None) -> dict:
    lags: list[tuple[float, float]] = []
    handed = 0
    stop = time.perf_counter() + SERVE_S

    async def probe() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await asyncio.sleep(TICK_S)
            woke = time.perf_counter()
            lags.append((started, woke - started - TICK_S))

    async def producer() -> None:
        nonlocal handed
        begun = time.perf_counter()
        i = 0
        while time.perf_counter() < stop:
            due = int((time.perf_counter() - begun) * RATE)
            while handed < due:
                record = {**records[i % len(records)], "timestamp": time.time()}
                i += 1
                if log is not None:
                    log([record])
                handed += 1
                if handed % 8 == 0:
                    await asyncio.sleep(0)  # requests interleave with the probe
            await asyncio.sleep(TICK_S)

    await asyncio.gather(probe(), producer())
    return {"lags": lags, "handed": handed}


def serving(records: list[dict[str, Any]], tmp: Path) -> dict[str, dict[str, Any]]:
    import uvloop

    out: dict[str, dict[str, Any]] = {}
    floor = uvloop.run(_serve(records, None))
    lags = [lag for _, lag in floor["lags"]]
    out["no logger (floor)"] = {
        "p50_ms": _pct(lags, 0.5) * 1e3,
        "p99_ms": _pct(lags, 0.99) * 1e3,
        "max_ms": max(lags) * 1e3,
        "handed": floor["handed"],
    }
    logger = _logger(tmp, "serve")
    logger.flush()  # warm
    spans = _time_flushes(logger)
    try:
        run = uvloop.run(_serve(records, logger.log_many))
    finally:
        logger.close()
    stats = logger.stats()
    if stats["records_written"] != run["handed"] or stats["records_dropped"]:
        raise RuntimeError(f"logged {run['handed']} records, the logger says {stats}")
    lags = [lag for _, lag in run["lags"]]
    # a tick overlaps a flush when the flush ran while the probe slept
    during, outside = [], []
    for started, lag in run["lags"]:
        overlaps = any(s < started + TICK_S + lag and e > started for s, e, _ in spans)
        (during if overlaps else outside).append(lag)
    flushes = [span for span in spans if span[1] - span[0] > 0]
    cpu = sum(c for _, _, c in flushes)
    written = stats["records_written"]
    out["logger"] = {
        "p50_ms": _pct(lags, 0.5) * 1e3,
        "p99_ms": _pct(lags, 0.99) * 1e3,
        "max_ms": max(lags) * 1e3,
        "flush_p99_ms": _pct(during, 0.99) * 1e3,
        "flush_max_ms": max(during, default=0.0) * 1e3,
        "outside_p99_ms": _pct(outside, 0.99) * 1e3,
        "outside_max_ms": max(outside, default=0.0) * 1e3,
        "flushes": len(flushes),
        "writer_cpu_ms": statistics.median(c for _, _, c in flushes) * 1e3 if flushes else 0.0,
        "capacity_rps": written / cpu if cpu else 0.0,
        "handed": run["handed"],
        "written": written,
    }
    return out


def conversion(records: list[dict[str, Any]], tmp: Path) -> dict[str, float]:
    import io

    import pyarrow.parquet as pq

    batch = _stamped(records, BATCH)
    inference_log.to_table(batch)

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(ROUNDS):
            started = time.thread_time()
            fn()
            times.append(time.thread_time() - started)
        return min(times) * 1e3

    table = inference_log.to_table(batch)
    logger = InferenceLogger(LogStore(str(tmp / "append")), tmp / "append-spool")  # not started

    def log_one_by_one() -> None:
        for record in batch:
            logger.log_many([record])

    return {
        "to_table_ms": best(lambda: inference_log.to_table(batch)),
        "encode_ms": best(lambda: pq.write_table(table, io.BytesIO(), compression="zstd")),
        "log_us": best(log_one_by_one) / BATCH * 1e3,
    }


def main(corpus: str | None = None) -> dict[str, Any]:
    console = Console(width=150)
    records = corpus_records(Path(corpus) if corpus else SHARED_CORPUS)
    inference_log.warm_up()
    with tempfile.TemporaryDirectory(prefix="bench-logflush-") as tmp_name:
        tmp = Path(tmp_name)
        gil = gil_per_flush(records, tmp)
        served = serving(records, tmp)
        converted = conversion(records, tmp)

    table = Table(title=f"inference-log flush of {BATCH:,} records: GIL holds of the writer")
    for column in ("", "median ms", "p90 ms"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row("flush, wall", f"{gil['flush_ms']:.2f}", "")
    table.add_row("flush, writer CPU", f"{gil['writer_cpu_ms']:.2f}", "")
    table.add_row("GIL held during a flush", f"{gil['held_ms']:.2f}", f"{gil['held_p90_ms']:.2f}")
    table.add_row(
        "longest hold in a flush", f"{gil['longest_ms']:.2f}", f"{gil['longest_p90_ms']:.2f}"
    )
    table.add_row("floor: GIL-free CPU as long, 'held'", f"{gil['idle_held_ms']:.2f}", "")
    table.add_row(
        "floor: GIL-free CPU as long, longest",
        f"{gil['idle_longest_ms']:.2f}",
        f"{gil['idle_longest_p90_ms']:.2f}",
    )
    console.print(table)

    table = Table(
        title=f"event loop (uvloop) with log_many at {RATE:,} records/s, {SERVE_S:.0f} s: "
        "loop lag of a 1 ms sleep"
    )
    for column in ("run", "lag p50 ms", "p99 ms", "max ms", "during flushes p99 / max ms"):
        table.add_column(column, justify="left" if column == "run" else "right")
    for column in ("other ticks p99 / max ms", "flushes", "writer CPU ms/flush"):
        table.add_column(column, justify="right")
    table.add_column("writer records/s", justify="right")
    for name, r in served.items():
        logged = "flushes" in r
        table.add_row(
            name,
            f"{r['p50_ms']:.3f}",
            f"{r['p99_ms']:.2f}",
            f"{r['max_ms']:.2f}",
            f"{r['flush_p99_ms']:.2f} / {r['flush_max_ms']:.2f}" if logged else "-",
            f"{r['outside_p99_ms']:.2f} / {r['outside_max_ms']:.2f}" if logged else "-",
            str(r["flushes"]) if logged else "-",
            f"{r['writer_cpu_ms']:.2f}" if logged else "-",
            f"{r['capacity_rps']:,.0f}" if logged else "-",
        )
    console.print(table)
    logged = served["logger"]
    console.print(
        f"Conversion alone, CPU per {BATCH:,} records (best of {ROUNDS}): record dicts → Arrow "
        f"table (inference_log.to_table) {converted['to_table_ms']:.2f} ms, Parquet zstd "
        f"{converted['encode_ms']:.2f} ms; log_many, one record per call (the request path's "
        f"share, on the event loop): {converted['log_us']:.2f} µs per record. Serving run: "
        f"{logged['handed']:,} records logged, {logged['written']:,} written."
    )
    return {"gil": gil, "serving": served, "conversion": converted}


if __name__ == "__main__":
    main()
