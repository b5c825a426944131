"""GET /monitoring/drift and /monitoring/drift/history (operator) over reports the real drift
job wrote (synthetic inference logs in the gateway's layout)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from spam_drift.job import DriftConfig, run_drift
from spam_drift.window import Window
from tests.utils.drift_fixtures import T0, make_logs
from tests.utils.gateway import OPERATOR, VIEWER
from tests.utils.inference_logs import make_baseline, write_baseline
from tests.utils.services import free_port

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("monitoring")
    logs = make_logs(root / "logs")
    baseline = write_baseline(root / "drift_baseline.json", make_baseline())
    out = root / "reports"
    for window in (Window(T0, T0 + HOUR), Window(T0 + HOUR, T0 + 2 * HOUR)):
        run_drift(
            DriftConfig(
                inference_log=str(logs),
                reports=str(out),
                environment="production",
                window=window,
                baselines={"1": str(baseline)},
                model_ref_template="",
                html=False,
            )
        )
    # an unreadable report is listed, not fatal
    (out / "production" / "drift-production-20200101T0000Z-20200101T0100Z.json").write_text("{")
    return out


@pytest.fixture(scope="module")
def gateway(make_gateway, reports_dir):
    # no transformer: these routes only read the reports location
    return make_gateway(
        TRANSFORMER_URL=f"http://127.0.0.1:{free_port()}", DRIFT_REPORTS_URL=str(reports_dir)
    )


def test_latest_verdict_per_environment(gateway, reports_dir):
    r = httpx.get(gateway.url + "/monitoring/drift", headers=OPERATOR, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["reports_url"] == str(reports_dir)
    by_env = {e["environment"]: e for e in body["environments"]}
    assert by_env["staging"]["latest"] is None and by_env["staging"]["reports"] == 0
    production = by_env["production"]
    latest = production["latest"]
    assert latest["window"]["start"] == (T0 + HOUR).isoformat()  # the newest window
    assert latest["drift_detected"] is True and latest["status"] == "ok"
    assert latest["drift_score"] > 0.5
    (version,) = latest["versions"]
    assert version["model_version"] == "1" and version["drift_detected"] is True
    assert latest["report_url"].endswith("drift-production-20261205T1100Z-20261205T1200Z.json")
    assert production["reports"] == 3


def test_history_newest_first_with_limit(gateway):
    r = httpx.get(
        gateway.url + "/monitoring/drift/history",
        params={"environment": "production"},
        headers=OPERATOR,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [rep["drift_detected"] for rep in body["reports"]] == [True, False]
    assert body["unreadable"] == ["drift-production-20200101T0000Z-20200101T0100Z.json"]
    assert body["total"] == 3
    limited = httpx.get(
        gateway.url + "/monitoring/drift/history",
        params={"environment": "production", "limit": 1},
        headers=OPERATOR,
        timeout=10,
    ).json()
    assert len(limited["reports"]) == 1 and limited["reports"][0]["drift_detected"] is True


def test_operator_role_and_valid_environment_required(gateway):
    url = gateway.url + "/monitoring/drift"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers=VIEWER, timeout=10).status_code == 403
    bad = httpx.get(url + "/history", params={"environment": "dev"}, headers=OPERATOR, timeout=10)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"]
