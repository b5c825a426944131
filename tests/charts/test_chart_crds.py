"""Custom resources validate against the upstream CRDs in ../shared/crds (offline)."""

from __future__ import annotations

import copy

import pytest

from tests.charts import chartlib

# Kinds the shared folder has no CRD for (none: the Istio CRDs are there too).
WITHOUT_SHARED_CRD: set[tuple[str, str]] = set()
CORE_PREFIXES = ("v1", "apps/", "batch/", "policy/", "autoscaling/", "networking.k8s.io/")
CORE_PREFIXES += ("rbac.authorization.k8s.io/",)


def custom_resources(values):
    docs = chartlib.render_docs(values, api_versions=(chartlib.MONITORING_API,))
    crs = [d.body for d in docs if not d.body["apiVersion"].startswith(CORE_PREFIXES)]
    return crs + chartlib.embedded_rayjobs(docs)


def test_the_shared_crds_are_there():
    assert chartlib.CRDS.is_dir(), f"shared CRDs not found at {chartlib.CRDS}"
    assert {
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("serving.kserve.io/v1alpha1", "ServingRuntime"),
        ("ray.io/v1", "RayCluster"),
        ("ray.io/v1", "RayJob"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("networking.istio.io/v1", "Gateway"),
        ("networking.istio.io/v1", "VirtualService"),
        ("networking.istio.io/v1", "DestinationRule"),
        ("security.istio.io/v1", "PeerAuthentication"),
        ("security.istio.io/v1", "AuthorizationPolicy"),
    } <= set(chartlib.crd_validators())


def test_custom_resources_match_their_crd(scenario):
    _, values = scenario
    for body in custom_resources(values):
        key = (body["apiVersion"], body["kind"])
        if key in WITHOUT_SHARED_CRD:
            continue
        assert key in chartlib.crd_validators(), f"no CRD for {key}"
        errors = chartlib.crd_errors(body)
        assert not errors, f"{body['kind']} {body['metadata'].get('name')}: {errors}"


def test_every_custom_kind_is_rendered_by_some_scenario():
    from tests.charts.chartlib import SCENARIOS

    seen = set()
    for values in SCENARIOS.values():
        seen |= {(b["apiVersion"], b["kind"]) for b in custom_resources(values)}
    assert seen == {
        ("serving.kserve.io/v1beta1", "InferenceService"),
        ("serving.kserve.io/v1alpha1", "ServingRuntime"),
        ("ray.io/v1", "RayCluster"),
        ("ray.io/v1", "RayJob"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("networking.istio.io/v1", "Gateway"),
        ("networking.istio.io/v1", "VirtualService"),
        ("networking.istio.io/v1", "DestinationRule"),
        ("security.istio.io/v1", "PeerAuthentication"),
        ("security.istio.io/v1", "AuthorizationPolicy"),
    }


@pytest.mark.parametrize(
    ("kind", "mutate", "expected"),
    [
        (
            "InferenceService",
            lambda b: b["spec"]["predictor"]["model"].update(storageURI="x"),
            "storageURI",
        ),
        (
            "InferenceService",
            lambda b: b["spec"]["predictor"].update(minReplicas="two"),
            "minReplicas",
        ),
        (
            "RayCluster",
            lambda b: b["spec"]["workerGroupSpecs"][0].pop("groupName"),
            "groupName",
        ),
        (
            "RayJob",
            lambda b: b["spec"].update(clusterSelector={"ray.io/cluster": 3}),
            "clusterSelector",
        ),
        ("PeerAuthentication", lambda b: b["spec"]["mtls"].update(mode="STRICTER"), "mode"),
        ("AuthorizationPolicy", lambda b: b["spec"].update(action="PERMIT"), "action"),
        ("Gateway", lambda b: b["spec"]["servers"][0].update(hostz=["a"]), "hostz"),
        ("DestinationRule", lambda b: b["spec"].update(host=7), "host"),
    ],
    ids=[
        "isvc-unknown-field",
        "isvc-wrong-type",
        "raycluster-missing-required",
        "rayjob-type",
        "peerauthentication-mode",
        "authorizationpolicy-action",
        "gateway-unknown-field",
        "destinationrule-type",
    ],
)
def test_crd_validation_catches_a_broken_resource(kind, mutate, expected):
    bodies = [b for b in custom_resources(chartlib.env_values("production")) if b["kind"] == kind]
    body = copy.deepcopy(bodies[0])
    mutate(body)
    errors = chartlib.crd_errors(body)
    assert any(expected in e for e in errors), errors
