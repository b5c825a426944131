"""Every core object validates strictly against the Kubernetes API of several versions."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.charts import chartlib

# The chart's kubeVersion floor, a middle release and a recent one.
VERSIONS = ("1.27.0", "1.30.0", "1.33.0")
CUSTOM_GROUPS = ("serving.kserve.io/", "ray.io/", "monitoring.coreos.com/", "networking.istio.io/")
CUSTOM_GROUPS += ("security.istio.io/",)


def core_docs(values, version):
    docs = chartlib.render_docs(
        values, kube_version=f"v{version}", api_versions=(chartlib.MONITORING_API,)
    )
    return [d for d in docs if not d.body["apiVersion"].startswith(CUSTOM_GROUPS)]


@pytest.mark.parametrize("version", VERSIONS)
def test_core_objects_are_valid_kubernetes(scenario, version):
    _, values = scenario
    docs = core_docs(values, version)
    assert docs
    for doc in docs:
        try:
            kubernetes_validate.validate(doc.body, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{doc.template} {doc.key} invalid for Kubernetes {version}: {err}")


def test_strict_validation_rejects_a_misspelled_field():
    deployment = chartlib.only(
        core_docs(chartlib.minimal_values(), "1.30.0"), "Deployment", "spam-platform-gateway"
    )
    broken = copy.deepcopy(deployment.body)
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30.0", strict=True)
