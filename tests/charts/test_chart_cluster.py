"""Install, `helm test` and uninstall against a real cluster (pytest-helm-charts style).

Skipped unless KUBECONFIG is set. The cluster must already run what the chart builds on
(KServe, KubeRay, Redis, the images) and hold the two Secrets the chart references;
.github/workflows/charts.yaml prepares a kind cluster that way. Environment:

  SPAM_CHART_TEST_VALUES     comma-separated values files, later ones win
                             (default: charts/spam-platform/ci/01-minimal-values.yaml)
  SPAM_CHART_TEST_NAMESPACE  namespace to install into (default: spam-platform-chart-test)
  SPAM_CHART_TEST_TIMEOUT    seconds to wait for readiness and for the test hooks (default: 900)
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.charts import chartlib

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not os.environ.get("KUBECONFIG"), reason="needs a cluster: set KUBECONFIG"),
]

NAMESPACE = os.environ.get("SPAM_CHART_TEST_NAMESPACE", "spam-platform-chart-test")
TIMEOUT = int(os.environ.get("SPAM_CHART_TEST_TIMEOUT", "900"))
RELEASE = "spam-chart-test"


def values() -> dict:
    files = os.environ.get(
        "SPAM_CHART_TEST_VALUES", str(chartlib.CI_FILES["01-minimal-values.yaml"])
    )
    merged: dict = {}
    for name in filter(None, (f.strip() for f in files.split(","))):
        path = Path(name) if Path(name).is_absolute() else chartlib.REPO / name
        merged = chartlib.deep_merge(merged, chartlib.load_values(path))
    return merged


@pytest.fixture(scope="module")
def helm():
    import helm_python

    config = helm_python.Config(kubeconfig_path=os.environ["KUBECONFIG"], namespace=NAMESPACE)
    config.check_reachable()
    config.uninstall(RELEASE, ignore_not_found=True, wait="watcher", timeout=300)
    config.install(
        chartlib.CHART,
        RELEASE,
        values(),
        namespace=NAMESPACE,
        create_namespace=True,
        wait="watcher",
        timeout=TIMEOUT,
    )
    try:
        yield config
    finally:
        config.uninstall(RELEASE, wait="watcher", timeout=300)
        config.close()


def test_release_is_deployed(helm):
    summary = helm.status(RELEASE)
    assert summary["status"] == "deployed", summary
    assert "POST /predict" in summary["notes"]


def test_deployments_become_available(helm):
    from kubernetes import client, config

    config.load_kube_config(os.environ["KUBECONFIG"])
    apps = client.AppsV1Api()
    selector = f"app.kubernetes.io/instance={RELEASE}"
    deadline = time.monotonic() + TIMEOUT
    while True:
        deployments = apps.list_namespaced_deployment(NAMESPACE, label_selector=selector).items
        waiting = [
            d.metadata.name
            for d in deployments
            if (d.status.available_replicas or 0) < (d.spec.replicas or 1)
        ]
        if deployments and not waiting:
            break
        assert time.monotonic() < deadline, f"not available after {TIMEOUT}s: {waiting}"
        time.sleep(5)


def test_helm_test_hooks_pass(helm):
    # gateway /ready, Triton readiness of both tracks, one real POST /predict; a failing hook
    # raises HelmReleaseError with the pod's detail
    result = helm.test(RELEASE, timeout=TIMEOUT, logs=True)
    logs = result.get("logs", "")
    print(logs)
    assert "gateway ready" in logs
    assert "staging track ready" in logs and "production track ready" in logs
    assert '"prediction"' in logs
