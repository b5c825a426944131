"""checkov scans the rendered manifests of every scenario: no failed check, every skip justified.

The chart's skips are `checkov.io/skip<N>` annotations with a reason, rendered only while the
reason holds (charts/spam-platform/charts/spam-common/templates/_checkov.tpl). The one skip the
test adds itself is below.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.charts import chartlib
from tests.charts.chartlib import SCENARIOS, networkpolicies_on

# check id -> why the chart may skip it (the annotation's reason must start with this)
JUSTIFIED = {
    "CKV_K8S_8": "one-shot helm test pod",
    "CKV_K8S_9": "one-shot helm test pod",
    "CKV_K8S_35": "Feast expands the Redis connection string from an environment variable only",
    "CKV_K8S_38": "the gateway creates, reads and deletes RayJobs through the API server",
    "CKV_K8S_43": "image referenced by an immutable release tag",
}
# Skipped by this test, not by the chart: "every pod has a NetworkPolicy". Staging and the ci
# scenarios without global.networkPolicy.enabled run without NetworkPolicies by design
# (issue 5: they are a production override); where they are on, the check runs.
WITHOUT_NETWORK_POLICIES = "CKV2_K8S_6"


def checkov() -> str:
    path = os.environ.get("PATH", "") + os.pathsep + str(Path.home() / ".local" / "bin")
    found = shutil.which("checkov", path=path)
    if found is None:
        pytest.fail("checkov not found: `make setup` installs it (uv tool install checkov==3.3.30)")
    return found


def scan(docs: list[chartlib.Doc], workdir: Path, skip: list[str]) -> dict:
    for i, doc in enumerate(docs):
        (workdir / f"{i:03d}-{doc.kind}-{doc.name}.yaml").write_text(yaml.safe_dump(doc.body))
    cmd = [checkov(), "-d", str(workdir), "--framework", "kubernetes", "--quiet", "--compact"]
    cmd += ["-o", "json", "--skip-download"]
    if skip:
        cmd += ["--skip-check", ",".join(skip)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    (kube,) = [r for r in reports if r.get("check_type") == "kubernetes"]
    return kube


@pytest.mark.parametrize("name", list(SCENARIOS), ids=str)
def test_checkov_finds_nothing(name, tmp_path):
    values = SCENARIOS[name]
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    skip = [] if networkpolicies_on(values) else [WITHOUT_NETWORK_POLICIES]
    report = scan(docs, tmp_path, skip)
    failed = [
        f"{c['check_id']} {c['check_name']} {c['file_path']}"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["passed"] > 100
    for check in report["results"].get("skipped_checks", []):
        if check["check_id"] == WITHOUT_NETWORK_POLICIES:
            continue
        reason = JUSTIFIED.get(check["check_id"])
        assert reason, f"unexpected skip {check['check_id']} in {check['file_path']}"
        assert check.get("suppress_comment", "").startswith(reason), check


def test_checkov_flags_an_unrestricted_pod(tmp_path):
    docs = chartlib.render_docs(chartlib.env_values("production"))
    gateway = chartlib.only(docs, "Deployment", "spam-platform-gateway")
    container = gateway.body["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["allowPrivilegeEscalation"] = True
    report = scan([gateway], tmp_path, [])
    assert "CKV_K8S_20" in {c["check_id"] for c in report["results"]["failed_checks"]}
