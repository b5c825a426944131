"""The drift job on synthetic inference logs in the gateway's layout: verdicts, reports,
partition pruning, and every kind of bad input (clear message, exit code, no traceback)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from spam_drift.cli import single
from spam_drift.errors import DriftInputError
from spam_drift.job import DriftConfig, run_drift
from spam_drift.window import Window
from tests.utils.drift_fixtures import T0

HOUR = timedelta(hours=1)
NORMAL = Window(T0, T0 + HOUR)
SHIFTED = Window(T0 + HOUR, T0 + 2 * HOUR)


def config(logs: Path, out: Path, baseline: Path, window: Window, **kw) -> DriftConfig:
    return DriftConfig(
        inference_log=str(logs),
        reports=str(out),
        environment=kw.pop("environment", "production"),
        window=window,
        baselines={"1": str(baseline), "9": str(baseline)},
        model_ref_template="",
        **kw,
    )


def invoke(*args: str):
    result = CliRunner().invoke(single, list(args))
    assert "Traceback" not in result.output
    return result


def test_normal_traffic_is_not_drift_and_the_report_says_why(logs, tmp_path, baseline_path):
    report = run_drift(config(logs, tmp_path / "out", baseline_path, NORMAL))
    assert report.status == "ok" and report.drift_detected is False
    assert report.rows == 3000 and report.files_read == 3 and report.partitions_read == 1
    (version,) = report.versions
    assert version.model_version == "1" and version.rows == 3000
    assert version.drift_score == 0.0 and version.drifted_features == []
    assert version.spam_rate is not None and abs(version.spam_rate.delta) < 0.05
    assert {f.name for f in version.features} >= {"body_length_log", "sender_spam_rate"}
    saved = json.loads(Path(report.report_url).read_text())
    assert saved["drift_detected"] is False
    assert saved["window"] == {"start": T0.isoformat(), "end": (T0 + HOUR).isoformat()}
    assert saved["thresholds"]["psi"] == 0.2 and saved["thresholds"]["min_rows"] == 500
    assert Path(report.report_url).name == "drift-production-20261205T1000Z-20261205T1100Z.json"
    html = Path(report.html_reports["1"]).read_text()
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:500].lower()
    assert "body_length_log" in html


def test_shifted_traffic_is_drift_with_reasons(logs, tmp_path, baseline_path):
    report = run_drift(config(logs, tmp_path / "out", baseline_path, SHIFTED, html=False))
    assert report.drift_detected is True and report.status == "ok"
    (version,) = report.versions
    assert version.drift_score is not None and version.drift_score > 0.5
    assert version.spam_rate.drifted and version.score.drifted
    assert any("features drifted" in r for r in report.reasons)
    drifted = {f.name: f for f in version.features if f.drifted}
    assert all(f.ks_pvalue_adjusted >= f.ks_pvalue for f in drifted.values())


def test_a_window_across_partitions_counts_only_its_rows(logs, tmp_path, baseline_path):
    window = Window(T0 + HOUR / 2, T0 + HOUR * 3 / 2)
    report = run_drift(config(logs, tmp_path / "out", baseline_path, window, html=False))
    table = pads.dataset(logs, partitioning="hive").to_table()
    ts = table.column("timestamp").to_pylist()
    env = table.column("environment").to_pylist()
    expected = sum(
        1
        for t, e in zip(ts, env, strict=True)
        if e == "production" and window.start <= t < window.end
    )
    assert report.rows == expected and report.partitions_read == 2


def test_only_the_windows_partitions_are_read(logs, tmp_path, baseline_path):
    shifted_dir = logs / "date=2026-12-05/hour=11/environment=production"
    (shifted_dir / "part-corrupt.parquet").write_bytes(b"PAR1 this is not parquet")
    (shifted_dir / ".tmp-abc").write_bytes(b"half a file")
    report = run_drift(config(logs, tmp_path / "out", baseline_path, NORMAL, html=False))
    assert report.rows == 3000  # hour 11 was never opened
    with pytest.raises(DriftInputError, match=r"part-corrupt\.parquet: not a readable Parquet"):
        run_drift(config(logs, tmp_path / "out", baseline_path, SHIFTED, html=False))


def test_cli_corrupt_parquet_exits_2_with_the_file_name(logs, tmp_path, baseline_path):
    bad = logs / "date=2026-12-05/hour=10/environment=production/part-bad.parquet"
    bad.write_bytes(b"garbage")
    result = invoke(*_args(logs, tmp_path, baseline_path), "--start", "2026-12-05T10:00Z")
    assert result.exit_code == 2, result.output
    assert "part-bad.parquet" in result.output and "not a readable Parquet" in result.output


def _args(logs: Path, tmp_path: Path, baseline: Path) -> list[str]:
    return [
        "--inference-log",
        str(logs),
        "--output",
        str(tmp_path / "out"),
        "--baseline",
        f"1={baseline}",
        "--model-ref-template",
        "",
        "--no-html",
        "--end",
        "2026-12-05T11:00Z",
    ]


def test_cli_prints_a_table_and_exits_0(logs, tmp_path, baseline_path):
    result = invoke(*_args(logs, tmp_path, baseline_path), "--since", "1h")
    assert result.exit_code == 0, result.output
    assert "verdict" in result.output and "3000" in result.output
    assert len(list((tmp_path / "out" / "production").glob("drift-*.json"))) == 1


def test_no_logs_exits_2(tmp_path, baseline_path):
    result = invoke(*_args(tmp_path / "nowhere", tmp_path, baseline_path), "--since", "1h")
    assert result.exit_code == 2
    assert "no inference logs at" in result.output


def test_an_empty_window_reports_no_data_and_exits_0(logs, tmp_path, baseline_path):
    args = _args(logs, tmp_path, baseline_path)
    args[args.index("--end") + 1] = "2020-01-01T00:00Z"
    result = invoke(*args, "--since", "2h")
    assert result.exit_code == 0, result.output
    assert "no_data" in result.output and "no inference-log rows" in result.output
    (saved,) = (tmp_path / "out" / "production").glob("drift-*.json")
    doc = json.loads(saved.read_text())
    assert doc["status"] == "no_data" and doc["drift_detected"] is False and doc["rows"] == 0


def test_a_missing_baseline_writes_the_report_and_exits_2(logs, tmp_path, baseline_path):
    args = _args(logs, tmp_path, baseline_path)
    args[args.index("--baseline") + 1] = "7=/nowhere/drift_baseline.json"
    result = invoke(*args, "--since", "1h")
    assert result.exit_code == 2
    assert "no drift baseline for model version '1'" in result.output
    (saved,) = (tmp_path / "out" / "production").glob("drift-*.json")
    doc = json.loads(saved.read_text())
    assert doc["status"] == "incomplete" and doc["versions"][0]["status"] == "no_baseline"


def test_a_corrupt_baseline_exits_2(logs, tmp_path):
    broken = tmp_path / "drift_baseline.json"
    broken.write_text('{"kind": "something else"}')
    result = invoke(*_args(logs, tmp_path, broken), "--since", "1h")
    assert result.exit_code == 2
    assert "not a drift baseline" in result.output


def test_too_few_rows_is_not_enough_data(logs, tmp_path, baseline_path):
    report = run_drift(
        config(logs, tmp_path / "out", baseline_path, NORMAL, environment="staging", html=False)
    )
    assert report.status == "not_enough_data" and report.drift_detected is False
    (version,) = report.versions
    assert version.model_version == "9" and version.rows == 200
    assert version.status == "not_enough_data" and "fewer than the 500" in version.message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--since", "0h"], "invalid duration"),
        (["--since", "1h", "--start", "2026-12-05T10:00Z"], "either --since or --start"),
        (["--start", "yesterday"], "invalid time"),
        (["--since", "1h", "--environment", "dev"], "environment"),
        (["--since", "1h", "--webhook-format", "teams"], "webhook_format"),
        (["--since", "1h", "--baseline", "nonsense"], "expected VERSION=PATH"),
        (["--since", "60d"], "longer than 31 days"),
    ],
)
def test_bad_options_exit_2_with_a_message(logs, tmp_path, baseline_path, extra, message):
    result = invoke(*_args(logs, tmp_path, baseline_path), *extra)
    assert result.exit_code == 2, result.output
    assert message in result.output


@pytest.mark.parametrize("command", [["spam-drift"], ["spam-platform", "drift"]])
def test_the_installed_entry_points_run_the_job(command, logs, tmp_path, baseline_path):
    """``spam-drift`` (the image's entry point) and ``spam-platform drift`` (registered through
    the CLI's plugin entry points) are the same command."""
    import os
    import subprocess

    url_file = tmp_path / "webhook-url"
    url_file.write_text("http://127.0.0.1:9/unused\n")  # read, not called: no drift here
    proc = subprocess.run(
        [*command, *_args(logs, tmp_path, baseline_path), "--since", "1h", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "SPAM_LOG_FORMAT": "json", "SPAM_DRIFT_WEBHOOK_URL_FILE": str(url_file)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["rows"] == 3000 and report["drift_detected"] is False
    assert report["alert"]["configured"] is True
    run_line = [json.loads(line) for line in proc.stderr.splitlines() if '"drift.run"' in line]
    assert run_line and run_line[0]["status"] == "ok" and run_line[0]["rows"] == 3000


def test_an_unreadable_webhook_url_file_exits_2(logs, tmp_path, baseline_path):
    result = invoke(
        *_args(logs, tmp_path, baseline_path),
        "--since",
        "1h",
        "--webhook-url-file",
        str(tmp_path / "missing"),
    )
    assert result.exit_code == 2
    assert "--webhook-url-file" in result.output


def test_a_parquet_file_with_a_damaged_column_chunk_is_named(logs, tmp_path, baseline_path):
    """The footer is intact, the data is not: the message still names the file."""
    directory = logs / "date=2026-12-05/hour=10/environment=production"
    victim = sorted(directory.glob("part-*.parquet"))[0]
    row_group = pq.read_metadata(victim).row_group(0)
    (chunk,) = [
        row_group.column(j)
        for j in range(row_group.num_columns)
        if row_group.column(j).path_in_schema == "spam_probability"
    ]
    data = bytearray(victim.read_bytes())
    for i in range(chunk.data_page_offset + 40, chunk.data_page_offset + 240):
        data[i] ^= 0xFF  # inside the compressed data page
    victim.write_bytes(bytes(data))
    with pytest.raises(DriftInputError, match=victim.name):
        run_drift(config(logs, tmp_path / "out", baseline_path, NORMAL, html=False))


def test_local_config_reads_and_writes_under_spam_home(tmp_path, baseline_path):
    """What a scheduler on the local platform calls every interval."""
    from spam_drift.job import local_config
    from tests.utils.drift_fixtures import make_logs

    make_logs(tmp_path / "inference-logs")
    cfg = local_config(
        "production",
        NORMAL,
        home=tmp_path,
        baselines={"1": str(baseline_path)},
        model_ref_template="",
        html=False,
    )
    report = run_drift(cfg)
    assert report.rows == 3000
    assert Path(report.report_url).parent == tmp_path / "drift-reports" / "production"
