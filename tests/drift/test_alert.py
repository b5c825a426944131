"""Webhook alerts against a real local HTTP server: body, Slack shape, retries, de-duplication
across consecutive windows with a reminder interval; metrics pushed to a real HTTP endpoint
in the Pushgateway protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from spam_core.features.spec import NAMED_FEATURES
from spam_drift.job import DriftConfig, run_drift
from spam_drift.window import Window
from tests.utils.drift_fixtures import T0, make_logs

HOUR = timedelta(hours=1)


class Receiver:
    """A real HTTP server recording requests; answers the queued statuses, then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"method": self.command, "path": self.path, "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self._handle()

            def do_PUT(self) -> None:
                self._handle()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def json_bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def module_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_logs(tmp_path_factory.mktemp("alert-logs"))


def _config(logs: Path, out: Path, baseline: Path, window: Window, **kw) -> DriftConfig:
    return DriftConfig(
        inference_log=str(logs),
        reports=str(out),
        environment="production",
        window=window,
        baselines={"1": str(baseline)},
        model_ref_template="",
        html=False,
        alert_backoff_s=0.01,
        **kw,
    )


def shifted(hours_later: float = 0) -> Window:
    """Windows inside the shifted hour (11:00-12:00): consecutive drift windows."""
    start = T0 + HOUR + timedelta(minutes=10 * hours_later)
    return Window(start, start + timedelta(minutes=10))


def test_drift_alerts_once_across_consecutive_windows_then_reminds(
    module_logs, tmp_path, baseline_path, receiver
):
    out = tmp_path / "out"
    cfg = dict(webhook_url=receiver.url + "/hook", alert_reminder=timedelta(hours=2))
    thresholds = {"thresholds": {"min_rows": 100}}
    first = run_drift(
        _config(module_logs, out, baseline_path, shifted(0), **cfg, **thresholds), now=T0 + 2 * HOUR
    )
    assert first.drift_detected and first.alert.sent and first.alert.attempts == 1
    (body,) = receiver.json_bodies()
    assert body["type"] == "spam-platform.drift" and body["drift_detected"] is True
    assert body["environment"] == "production" and body["versions"][0]["model_version"] == "1"
    assert body["report_url"] == first.report_url and body["reasons"]

    # the next window, the same drift: no second alert
    second = run_drift(
        _config(module_logs, out, baseline_path, shifted(1), **cfg, **thresholds),
        now=T0 + 3 * HOUR,
    )
    assert second.drift_detected and second.alert.deduplicated and not second.alert.sent
    assert len(receiver.requests) == 1
    # past the reminder interval: alerted again
    third = run_drift(
        _config(module_logs, out, baseline_path, shifted(2), **cfg, **thresholds),
        now=T0 + 4 * HOUR + timedelta(minutes=1),
    )
    assert third.alert.sent and len(receiver.requests) == 2
    state = json.loads((out / "production" / "alert-state.json").read_text())
    assert state["alerts"] == 2

    # a window without drift clears the state; the next drift alerts at once
    calm = run_drift(
        _config(module_logs, out, baseline_path, Window(T0, T0 + HOUR), **cfg),
        now=T0 + 5 * HOUR,
    )
    assert not calm.drift_detected and not (out / "production" / "alert-state.json").exists()
    again = run_drift(
        _config(module_logs, out, baseline_path, shifted(3), **cfg, **thresholds),
        now=T0 + 5 * HOUR + timedelta(minutes=5),
    )
    assert again.alert.sent and len(receiver.requests) == 3


def test_retries_on_5xx_then_succeeds(module_logs, tmp_path, baseline_path, receiver):
    receiver.statuses = [503, 500]
    report = run_drift(
        _config(
            module_logs,
            tmp_path / "out",
            baseline_path,
            Window(T0 + HOUR, T0 + 2 * HOUR),
            webhook_url=receiver.url,
        )
    )
    assert report.alert.sent and report.alert.attempts == 3 and len(receiver.requests) == 3


def test_a_client_error_is_not_retried_and_not_remembered(
    module_logs, tmp_path, baseline_path, receiver
):
    receiver.statuses = [404]
    out = tmp_path / "out"
    report = run_drift(
        _config(
            module_logs,
            out,
            baseline_path,
            Window(T0 + HOUR, T0 + 2 * HOUR),
            webhook_url=receiver.url,
        )
    )
    assert not report.alert.sent and report.alert.error == "HTTP 404" and report.alert.attempts == 1
    assert not (out / "production" / "alert-state.json").exists()  # the next run tries again
    saved = json.loads(Path(report.report_url).read_text())
    assert saved["alert"]["error"] == "HTTP 404"


def test_an_unreachable_webhook_fails_after_the_retries_and_the_run_completes(
    module_logs, tmp_path, baseline_path
):
    from tests.utils.services import free_port

    report = run_drift(
        _config(
            module_logs,
            tmp_path / "out",
            baseline_path,
            Window(T0 + HOUR, T0 + 2 * HOUR),
            webhook_url=f"http://127.0.0.1:{free_port()}/",
            alert_attempts=3,
        )
    )
    assert report.drift_detected and not report.alert.sent and report.alert.attempts == 3
    assert "ConnectError" in report.alert.error


def test_slack_format(module_logs, tmp_path, baseline_path, receiver):
    run_drift(
        _config(
            module_logs,
            tmp_path / "out",
            baseline_path,
            Window(T0 + HOUR, T0 + 2 * HOUR),
            webhook_url=receiver.url,
            webhook_format="slack",
        )
    )
    (body,) = receiver.json_bodies()
    assert set(body) == {"text"}
    assert "Drift detected" in body["text"] and "`production`" in body["text"]


def test_metrics_are_pushed_in_the_pushgateway_protocol(
    module_logs, tmp_path, baseline_path, receiver
):
    report = run_drift(
        _config(
            module_logs,
            tmp_path / "out",
            baseline_path,
            Window(T0 + HOUR, T0 + 2 * HOUR),
            pushgateway_url=receiver.url,
        )
    )
    (request,) = receiver.requests
    assert request["method"] == "PUT"
    assert request["path"] == "/metrics/job/spam-drift/environment/production"
    families = {f.name: f for f in text_string_to_metric_families(request["body"].decode())}
    detected = families["spam_drift_detected"].samples
    assert [(s.labels["model_version"], s.value) for s in detected] == [("1", 1.0)]
    score = families["spam_drift_score"].samples[0].value
    assert score == pytest.approx(report.versions[0].drift_score)
    psi = {s.labels["feature"]: s.value for s in families["spam_drift_feature_psi"].samples}
    assert psi["spam_probability"] == pytest.approx(report.versions[0].score.psi)
    assert len(psi) == len(NAMED_FEATURES) + 1  # every named feature and the score
    assert families["spam_drift_window_rows"].samples[0].value == 3000
