"""The inference logger: buffer records in memory, write Parquet in a background thread.

The request path (``log``/``log_many``, on the event loop) appends each record to the
schema's buffer (``schema.new_buffer()``): for the inference log, column by column per
partition, so that a flush holds the GIL the event loop needs for a few conversions, not for
a pass over every record (``python -m tests.benchmarks logflush``). A writer thread flushes
the buffer when it holds ``batch_size`` records or ``flush_interval_s`` has passed and writes
one Parquet file per partition to the store (the encoding runs without the GIL). When a
write fails the file goes to the local spool directory instead (same relative path) and a
retry loop uploads the spooled files later (back-off doubling from ``retry_interval_s`` to
60 s); while the store is known to be down new flushes go straight to the spool. If the spool
cannot be written either, the tables stay in memory (up to ``max_pending`` records) and are
tried again. ``close`` flushes what is left (store, else spool) and makes one last pass over
the spool; files still there are picked up by the next start.

``schema`` is the record format: ``spam_core.inference_log`` (the default) or
``spam_core.feedback`` (the feedback log, same machinery and guarantees): a module with
``new_buffer()`` (``add(records)``, ``len``, ``partitions()`` → (path, rows, a function that
makes the table)), ``encode(table)`` → Parquet bytes, ``new_file_name()`` and ``warm_up()``.

Counters (``stats``): ``records_logged`` (handed in), ``records_written`` (in the store,
retries included), ``records_spooled`` (went to the spool), ``records_dropped`` (lost: only
when the memory cap is reached with store and spool failing, or for a record the schema
cannot convert), ``write_failures`` (failed store writes), ``records_buffered`` and
``records_in_spool``. At rest with a working store ``records_written == records_logged``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from spam_core import inference_log as schema
from spam_gateway.app.inference_log.store import LogStore, write_atomic

log = structlog.get_logger("spam_gateway.inference_log")

MAX_RETRY_INTERVAL_S = 60.0


class InferenceLogger:
    def __init__(
        self,
        store: LogStore,
        spool_dir: Path,
        *,
        batch_size: int = 1000,
        flush_interval_s: float = 10.0,
        retry_interval_s: float = 5.0,
        max_pending: int = 200_000,
        schema: ModuleType = schema,
    ) -> None:
        self.schema = schema
        self.store = store
        self.spool_dir = Path(spool_dir)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_interval_s = retry_interval_s
        self.max_pending = max_pending

        self._lock = threading.Lock()
        self._buffer = schema.new_buffer()
        # (partition, table) neither store nor spool took, oldest first
        self._unsaved: list[tuple[str, pa.Table]] = []
        self._unsaved_rows = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flushed = threading.Condition()
        self._flush_seq = 0
        self._flush_requested = 0
        self._thread: threading.Thread | None = None

        self._store_down = False
        self._retry_delay = retry_interval_s
        self._next_retry = 0.0
        self.last_error: str | None = None
        self.counts = {
            "records_logged": 0,
            "records_written": 0,
            "records_spooled": 0,
            "records_dropped": 0,
            "write_failures": 0,
            "records_in_spool": 0,
        }

    # ------------------------------------------------------------------ request path

    def log(self, record: schema.Record) -> None:
        self.log_many((record,))

    def log_many(self, records: Iterable[schema.Record]) -> None:
        """Buffer the records; one the schema refuses (no timestamp, a feature value that is
        not a number) raises here, the records before it are kept."""
        with self._lock:
            before = len(self._buffer)
            try:
                self._buffer.add(records)
            finally:
                self.counts["records_logged"] += len(self._buffer) - before
                full = len(self._buffer) >= self.batch_size
        if full:
            self._wake.set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        try:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # serve anyway: records wait in memory if the store fails too
            self.last_error = f"spool: {type(exc).__name__}: {exc}"
            log.error("inference_log.spool_unavailable", error=self.last_error)
        self.counts["records_in_spool"] = sum(n for _, n in self._spooled_files())
        if self.counts["records_in_spool"]:
            log.info("inference_log.spool_found", records=self.counts["records_in_spool"])
        self._thread = threading.Thread(
            target=self._run,
            name=self.schema.__name__.rsplit(".", 1)[-1].replace("_", "-"),
            daemon=True,
        )
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Flush the buffer (store, else spool), retry the spool once, stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("inference_log.close_timeout", buffered=len(self._buffer))

    def flush(self, timeout: float = 30.0) -> bool:
        """Ask the writer to flush now and wait for it (tests, admin)."""
        with self._flushed:
            target = self._flush_seq + 1
            self._flush_requested = target
            self._wake.set()
            return self._flushed.wait_for(lambda: self._flush_seq >= target, timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def state(self) -> str:
        if self._thread is None or self._stop.is_set():
            return "stopped"
        if not self._thread.is_alive():
            return "dead"
        if self._store_down or self.counts["records_in_spool"] or self._unsaved:
            return "spooling"
        return "ok"

    def stats(self) -> dict[str, Any]:
        with self._lock:
            buffered = len(self._buffer) + self._unsaved_rows
            counts = dict(self.counts)
        return {
            **counts,
            "records_buffered": buffered,
            "state": self.state,
            "store": self.store.url,
            "last_error": self.last_error,
        }

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        try:
            self.schema.warm_up()
        except Exception:  # pragma: no cover - only a slower first flush
            log.exception("inference_log.warm_up_failed")
        next_flush = time.monotonic() + self.flush_interval_s
        while True:
            now = time.monotonic()
            wait = next_flush - now
            if self.counts["records_in_spool"]:
                wait = min(wait, self._next_retry - now)
            self._wake.wait(max(0.0, wait))
            self._wake.clear()
            stopping = self._stop.is_set()
            requested = self._flush_requested > self._flush_seq
            try:
                now = time.monotonic()
                with self._lock:
                    pending = len(self._buffer)
                if stopping or requested or pending >= self.batch_size or now >= next_flush:
                    self._flush()
                    next_flush = time.monotonic() + self.flush_interval_s
                # at shutdown one pass over the spool, unless the store just failed (the
                # files stay for the next start instead of holding up the pod's exit)
                due = now >= self._next_retry or (stopping and not self._store_down)
                if self.counts["records_in_spool"] and due:
                    self._retry_spool()
            except Exception as exc:  # never let the writer die
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("inference_log.writer_error")
            finally:
                if stopping or requested:
                    with self._flushed:
                        self._flush_seq = max(self._flush_seq, self._flush_requested)
                        self._flushed.notify_all()
            if stopping:
                return

    def _flush(self) -> None:
        with self._lock:
            buffer, self._buffer = self._buffer, self.schema.new_buffer()
            unsaved, self._unsaved, self._unsaved_rows = self._unsaved, [], 0
        for partition, table in unsaved:
            self._write(partition, table)
        for partition, rows, build in buffer.partitions():
            try:
                table = build()
            except Exception as exc:  # a record the schema cannot convert: its file is lost
                self.counts["records_dropped"] += rows
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.error("inference_log.unconvertible", error=self.last_error, records=rows)
                continue
            self._write(partition, table)

    def _write(self, partition: str, table: pa.Table) -> None:
        """One file: to the store, else the spool, else kept in memory for the next flush."""
        relpath = f"{partition}/{self.schema.new_file_name()}"
        data = self.schema.encode(table)
        if self._write_store(relpath, data, table.num_rows):
            return
        if self._write_spool(relpath, data, table.num_rows):
            return
        self._keep_unsaved(partition, table)

    def _write_store(self, relpath: str, data: bytes, n: int, *, force: bool = False) -> bool:
        if self._store_down and not force and time.monotonic() < self._next_retry:
            return False  # known down: straight to the spool until the next retry
        try:
            self.store.write(relpath, data)
        except Exception as exc:
            self._mark_down(exc)
            return False
        self._store_down = False
        self.counts["records_written"] += n
        return True

    def _write_spool(self, relpath: str, data: bytes, n: int) -> bool:
        try:
            write_atomic(self.spool_dir / relpath, data, sync=True)
        except OSError as exc:
            self.last_error = f"spool: {type(exc).__name__}: {exc}"
            log.error("inference_log.spool_failed", error=self.last_error, records=n)
            return False
        self.counts["records_spooled"] += n
        self.counts["records_in_spool"] += n
        log.warning("inference_log.spooled", file=relpath, records=n)
        return True

    def _keep_unsaved(self, partition: str, table: pa.Table) -> None:
        """Keep a table in memory for the next flush; over ``max_pending`` records (with the
        buffer) the oldest go."""
        with self._lock:
            self._unsaved.append((partition, table))
            self._unsaved_rows += table.num_rows
            excess = self._unsaved_rows + len(self._buffer) - self.max_pending
            dropped = 0
            while excess > 0 and self._unsaved:
                oldest_partition, oldest = self._unsaved[0]
                drop = min(excess, oldest.num_rows)
                if drop == oldest.num_rows:
                    del self._unsaved[0]
                else:
                    self._unsaved[0] = (oldest_partition, oldest.slice(drop))
                self._unsaved_rows -= drop
                excess -= drop
                dropped += drop
            if dropped:
                self.counts["records_dropped"] += dropped
                log.error("inference_log.dropped", records=dropped)

    def _mark_down(self, exc: Exception) -> None:
        self.counts["write_failures"] += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if not self._store_down:
            self._retry_delay = self.retry_interval_s
        else:
            self._retry_delay = min(self._retry_delay * 2, MAX_RETRY_INTERVAL_S)
        self._store_down = True
        self._next_retry = time.monotonic() + self._retry_delay
        log.warning(
            "inference_log.store_failed", error=self.last_error, retry_in_s=self._retry_delay
        )

    def _spooled_files(self) -> list[tuple[Path, int]]:
        files = []
        for root, _dirs, names in os.walk(self.spool_dir):
            for name in names:
                if name.endswith(".parquet") and not name.startswith("."):
                    path = Path(root) / name
                    try:
                        files.append((path, pq.read_metadata(path).num_rows))
                    except Exception as exc:  # a damaged file: leave it, say so
                        log.error("inference_log.spool_unreadable", file=str(path), error=str(exc))
        files.sort(key=lambda item: item[0].stat().st_mtime_ns)
        return files

    def _retry_spool(self) -> None:
        """Upload spooled files, oldest first; stop at the first failure (back-off grows)."""
        for path, n in self._spooled_files():
            relpath = path.relative_to(self.spool_dir).as_posix()
            if not self._write_store(relpath, path.read_bytes(), n, force=True):
                return
            path.unlink()
            self.counts["records_in_spool"] -= n
            log.info("inference_log.unspooled", file=relpath, records=n)
        self.counts["records_in_spool"] = max(0, self.counts["records_in_spool"])
        self._prune_spool_dirs()

    def _prune_spool_dirs(self) -> None:
        for root, _dirs, _names in os.walk(self.spool_dir, topdown=False):
            if Path(root) != self.spool_dir:
                with contextlib.suppress(OSError):
                    os.rmdir(root)
