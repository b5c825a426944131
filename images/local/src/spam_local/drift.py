"""Scheduled drift runs on one machine: the drift subchart's CronJob, in the supervisor.

:class:`DriftScheduler` is a thread of the supervisor (``spam-platform local-supervise``). On
the clock, every ``SPAM_LOCAL_DRIFT_INTERVAL`` (default ``1h``: on the hour; ``0`` or ``off``:
no runs), it runs the drift job once per environment of ``SPAM_LOCAL_DRIFT_ENVIRONMENTS``,
one after the other, each over the window ``SPAM_LOCAL_DRIFT_WINDOW`` (default: the interval)
that ends at the scheduled time — ``spam-drift --start … --end …``, the CronJob's command, as a
child process:

* it reads ``$SPAM_HOME/inference-logs`` (where the local gateway writes) and writes to
  ``$SPAM_HOME/drift-reports`` (where the local gateway's ``GET /monitoring/drift`` reads);
  the served versions' baselines are their bundles under ``run/models/<track>``, other
  versions' come from the local MLflow registry; ``SPAM_DRIFT_*`` variables (webhook,
  Pushgateway, the minimum rows) reach it as they reach the CronJob's container;
* a child process, not a call in this thread: the job's memory (Evidently, pandas) is given
  back after each run, a run that hangs is killed at :data:`RUN_DEADLINE_S` (the chart's
  ``activeDeadlineSeconds``), and nothing a run does can take the supervisor down;
* a run that fails (exit 1 or 2, killed, or not started) is logged and recorded, and the next
  one comes at its time; a due time that passes while runs are still going is skipped (the
  CronJob's ``concurrencyPolicy: Forbid``);
* every run's output goes to ``run/logs/drift.log`` (rotated by size like the services' logs),
  framed by a start and an end line; the last run per environment and the next scheduled time
  are kept in ``run/drift-schedule.json`` for ``spam-platform status``;
* :meth:`DriftScheduler.stop` (the supervisor's SIGTERM, ``make down``) stops a running job
  (SIGTERM, then SIGKILL) and ends the thread.
"""

from __future__ import annotations

import contextlib
import json
import logging.handlers
import os
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from spam_local.config import LocalSettings
from spam_local.processes import LOG_BACKUPS, LOG_MAX_BYTES, child_environ, stop_pid

RUN_DEADLINE_S = 1800.0
"""A drift run still going after this long is killed (the CronJob's activeDeadlineSeconds)."""
STATE_FILE = "drift-schedule.json"


def served_baselines(settings: LocalSettings) -> dict[str, str]:
    """``{model version: bundle directory}`` of the versions the local platform serves (from
    ``run/versions.json``; each bundle holds its ``drift_baseline.json``)."""
    versions_file = settings.run_dir / "versions.json"
    try:
        versions: dict[str, str] = json.loads(versions_file.read_text())
    except (OSError, ValueError):
        return {}
    return {
        str(version): str(settings.models_run_dir / track)
        for track, version in versions.items()
        if (settings.models_run_dir / track).is_dir()
    }


def next_due(now: datetime, interval: timedelta) -> datetime:
    """The first multiple of ``interval`` since the epoch after ``now`` (cron-like: a 1h
    interval runs on the hour, 15m at :00, :15, :30, :45)."""
    step = interval.total_seconds()
    return datetime.fromtimestamp((now.timestamp() // step + 1) * step, UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def drift_command(
    settings: LocalSettings, environment: str, start: datetime, end: datetime
) -> list[str]:
    """``spam-drift`` over the local platform's inference log and drift-reports location."""
    from spam_local.platform import BIN

    command = [
        str(BIN / "spam-drift"),
        "--environment",
        environment,
        "--start",
        _iso(start) or "",
        "--end",
        _iso(end) or "",
        "--inference-log",
        str(settings.inference_log_dir),
        "--output",
        str(settings.drift_reports_dir),
    ]
    for version, path in served_baselines(settings).items():
        command += ["--baseline", f"{version}={path}"]
    return command


def drift_env(settings: LocalSettings) -> dict[str, str]:
    return {
        **child_environ(),
        "SPAM_HOME": str(settings.home),
        "SPAM_LOG_FORMAT": "json",
        "MLFLOW_TRACKING_URI": settings.mlflow_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


class DriftScheduler:
    """The periodic drift runs (see the module docstring). ``clock`` is the wall clock (UTC)."""

    def __init__(
        self,
        settings: LocalSettings,
        *,
        deadline_s: float = RUN_DEADLINE_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        interval = settings.drift_interval
        if interval is None:
            raise ValueError("scheduled drift runs are off (SPAM_LOCAL_DRIFT_INTERVAL=0)")
        self.settings = settings
        self.interval = interval
        self.window = settings.drift_window or interval
        self.environments = settings.drift_environments
        self.deadline_s = deadline_s
        self.clock = clock
        self.state_file = settings.run_dir / STATE_FILE
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._loop, name="drift-scheduler", daemon=True)
        self._state: dict[str, Any] = {
            "interval": settings.local_drift_interval,
            "window": settings.local_drift_window or settings.local_drift_interval,
            "environments": list(self.environments),
            "next_run": None,
            "runs": _read_state(self.state_file).get("runs", {}),  # the last runs before a restart
        }
        self._numbers: dict[str, int] = {
            env: int(run.get("number", 0)) for env, run in self._state["runs"].items()
        }
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        self._log = logging.handlers.RotatingFileHandler(
            settings.logs_dir / "drift.log",
            maxBytes=LOG_MAX_BYTES,
            backupCount=LOG_BACKUPS,
            encoding="utf-8",
            errors="replace",
        )
        self._log.setFormatter(logging.Formatter("%(message)s"))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> DriftScheduler:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop a running job and end the thread (the state file keeps the last runs)."""
        self._stop.set()
        process = self._process
        if process is not None and process.poll() is None:
            stop_pid(process.pid, timeout=5)
        self._thread.join(timeout)
        self._state["next_run"] = None
        with contextlib.suppress(OSError):
            self._save()
        self._log.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        self._say(
            f"drift schedule: every {self._state['interval']} over the last "
            f"{self._state['window']}, environments {', '.join(self.environments)}"
        )
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as exc:  # the schedule outlives any error (state file, log, clock)
                print(f"supervisor: drift scheduler error {type(exc).__name__}: {exc}", flush=True)
                self._stop.wait(min(self.interval.total_seconds(), 60.0))

    def _tick(self) -> None:
        """Wait for the next due time, then run each environment once."""
        due = next_due(self.clock(), self.interval)
        self._state["next_run"] = _iso(due)
        self._save()
        while not self._stop.is_set():
            left = (due - self.clock()).total_seconds()
            if left <= 0:
                break
            self._stop.wait(min(left, 1.0))
        for environment in self.environments:
            if self._stop.is_set():
                break
            try:
                self._run(environment, due - self.window, due)
            except Exception as exc:  # never let one run end the schedule
                self._say(f"drift run {environment}: scheduler error {type(exc).__name__}: {exc}")
                self._record(
                    environment,
                    {
                        "number": self._numbers.get(environment, 0),
                        "exit_code": None,
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
        late = self.clock() - due
        if late > self.interval:
            self._say(
                f"drift runs took {late.total_seconds():.0f} s, longer than the interval: "
                "the due times in between are skipped"
            )

    def _run(self, environment: str, start: datetime, end: datetime) -> None:
        window = {"start": _iso(start), "end": _iso(end)}
        started = self.clock()
        self._say(
            f"--- drift run {environment} {window['start']} -> {window['end']} "
            f"started {_iso(started)}"
        )
        self._numbers[environment] = self._numbers.get(environment, 0) + 1
        record: dict[str, Any] = {
            "number": self._numbers[environment],
            "window": window,
            "started_at": _iso(started),
        }
        try:
            process = subprocess.Popen(
                drift_command(self.settings, environment, start, end),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=drift_env(self.settings),
                start_new_session=True,
            )
        except OSError as exc:
            self._say(f"--- drift run {environment}: could not start: {exc}")
            self._record(environment, {**record, "exit_code": None, "error": str(exc)})
            return
        self._process = process
        pump = threading.Thread(target=self._pump, args=(process,), daemon=True)
        pump.start()
        t0 = time.monotonic()
        killed = None
        while process.poll() is None:
            if self._stop.wait(0.2):
                killed = "stopped (platform going down)"
            elif time.monotonic() - t0 > self.deadline_s:
                killed = f"killed after the {self.deadline_s:g} s deadline"
            if killed:
                stop_pid(process.pid, timeout=5)
                process.wait()
                break
        pump.join(10)
        self._process = None
        code = process.returncode
        record.update(
            finished_at=_iso(self.clock()),
            duration_s=round(time.monotonic() - t0, 1),
            exit_code=code,
        )
        report = self._report(environment, start, end, written_after=started)
        if report is not None:
            record.update(
                status=report.get("status"),
                drift_detected=report.get("drift_detected"),
                drift_score=report.get("drift_score"),
                rows=report.get("rows"),
                report=report.get("report_url"),
            )
        if killed:
            record["error"] = killed
        elif code not in (0, None) and report is None:
            record["error"] = f"exit code {code} (see drift.log)"
        self._record(environment, record)
        verdict = (
            f"{record.get('status')}, "
            + ("drift detected" if record.get("drift_detected") else "no drift")
            if report is not None
            else "no report"
        )
        self._say(
            f"--- drift run {environment} finished: exit {code}, {verdict}"
            + (f", {killed}" if killed else "")
            + f" ({record['duration_s']} s)"
        )

    def _report(
        self, environment: str, start: datetime, end: datetime, written_after: datetime
    ) -> dict[str, Any] | None:
        """The JSON report this run wrote (the job names it after environment and window)."""
        from spam_drift.report import report_stem
        from spam_drift.window import Window

        stem = report_stem(environment, Window(start, end))
        path = self.settings.drift_reports_dir / environment / f"{stem}.json"
        try:
            if path.stat().st_mtime < written_after.timestamp() - 1:
                return None  # an earlier run's report of the same window
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ logging and state
    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in iter(process.stdout.readline, b""):  # type: ignore[union-attr]
                self._emit(line.rstrip(b"\n").decode("utf-8", "replace"))

    def _say(self, line: str) -> None:
        self._emit(line)
        print(f"supervisor: {line}", flush=True)

    def _emit(self, line: str) -> None:
        self._log.emit(logging.makeLogRecord({"msg": line}))

    def _record(self, environment: str, record: dict[str, Any]) -> None:
        self._state["runs"][environment] = record
        self._save()

    def _save(self) -> None:
        with self._lock:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._state, indent=1) + "\n")
            os.replace(tmp, self.state_file)


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def schedule_status(settings: LocalSettings, running: bool) -> dict[str, str]:
    """Rows for ``spam-platform status``: the schedule, each environment's last run, the next."""
    if settings.drift_interval is None:
        return {"drift schedule": "off (SPAM_LOCAL_DRIFT_INTERVAL)"}
    state = _read_state(settings.run_dir / STATE_FILE)
    window = settings.local_drift_window or settings.local_drift_interval
    next_run = state.get("next_run") if running else None
    rows = {
        "drift schedule": f"every {settings.local_drift_interval} over the last {window}; next: "
        + (next_run or ("pending" if running else "none (the platform is stopped)"))
    }
    for environment in settings.drift_environments:
        run = state.get("runs", {}).get(environment)
        if not run:
            rows[f"drift {environment}"] = "no run yet"
            continue
        window_text = f"{run.get('window', {}).get('start')} -> {run.get('window', {}).get('end')}"
        if "status" in run:
            verdict = f"{run['status']}, " + (
                "DRIFT DETECTED" if run.get("drift_detected") else "no drift"
            )
            verdict += f", {run.get('rows', 0)} rows (exit {run.get('exit_code')})"
        else:
            verdict = f"failed: {run.get('error') or run.get('exit_code')}"
        rows[f"drift {environment}"] = f"{window_text}: {verdict}" + (
            f"; {run['report']}" if run.get("report") else ""
        )
    return rows
