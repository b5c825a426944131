"""The chart's production shape: HPAs with behaviour and the optional requests-per-second
metric, Istio ingress (Gateway, VirtualService, DestinationRule, PeerAuthentication STRICT,
AuthorizationPolicy) as the alternative to the Ingress, and the Ray workers' autoscaler.
Every object is also validated in every environment by test_chart_kubernetes.py (core kinds)
and test_chart_crds.py (the Istio and KubeRay CRDs in ../shared/crds)."""

from __future__ import annotations

import pytest

from tests.charts import chartlib

GATEWAY = "spam-platform-gateway"
ISTIO_KINDS = {
    ("networking.istio.io/v1", "Gateway"),
    ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "DestinationRule"),
    ("security.istio.io/v1", "PeerAuthentication"),
    ("security.istio.io/v1", "AuthorizationPolicy"),
}


def istio_kinds(docs) -> set[tuple[str, str]]:
    return {(d.body["apiVersion"], d.kind) for d in docs} & ISTIO_KINDS


# ------------------------------------------------------------------ HorizontalPodAutoscaler


def test_autoscaling_is_off_by_default():
    docs = chartlib.render_docs(chartlib.minimal_values())
    assert not [d for d in docs if d.kind == "HorizontalPodAutoscaler"]


@pytest.mark.parametrize("component", ["gateway", "transformer"])
def test_hpa_scales_up_fast_and_down_slowly(component):
    docs = chartlib.render_docs(chartlib.env_values("production"))
    hpa = chartlib.only(docs, "HorizontalPodAutoscaler", f"spam-platform-{component}").body
    assert hpa["apiVersion"] == "autoscaling/v2"
    up, down = hpa["spec"]["behavior"]["scaleUp"], hpa["spec"]["behavior"]["scaleDown"]
    assert up["stabilizationWindowSeconds"] == 0 and up["selectPolicy"] == "Max"
    assert {(p["type"], p["value"]) for p in up["policies"]} == {("Percent", 100), ("Pods", 4)}
    assert down["stabilizationWindowSeconds"] == 300 and down["selectPolicy"] == "Min"
    assert {(p["type"], p["value"]) for p in down["policies"]} == {("Percent", 50), ("Pods", 2)}
    (cpu,) = hpa["spec"]["metrics"]  # the custom metric is optional, off by default
    assert cpu["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


@pytest.mark.parametrize(
    ("component", "metric"),
    [
        ("gateway", "spam_gateway_requests_per_second"),
        ("transformer", "spam_transformer_requests_per_second"),
    ],
)
def test_requests_per_second_from_prometheus_adapter_when_asked(component, metric):
    values = chartlib.env_values(
        "production",
        {component: {"autoscaling": {"requestsPerSecond": {"enabled": True, "averageValue": 80}}}},
    )
    docs = chartlib.render_docs(values)
    hpa = chartlib.only(docs, "HorizontalPodAutoscaler", f"spam-platform-{component}").body
    pods = [m for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert pods == [
        {
            "type": "Pods",
            "pods": {
                "metric": {"name": metric},
                "target": {"type": "AverageValue", "averageValue": "80"},
            },
        }
    ]
    from kubernetes_validate import validate

    validate(hpa, "1.30.0", strict=True)


# ------------------------------------------------------------------ Istio


def test_production_is_served_through_istio_and_staging_through_the_ingress():
    production = chartlib.render_docs(chartlib.env_values("production"))
    staging = chartlib.render_docs(chartlib.env_values("staging"))
    assert istio_kinds(production) == ISTIO_KINDS
    assert not [d for d in production if d.kind == "Ingress"]
    assert not istio_kinds(staging)
    assert chartlib.only(staging, "Ingress", GATEWAY)


def test_gateway_serves_the_api_host_over_https_and_redirects_http():
    docs = chartlib.render_docs(chartlib.env_values("production"))
    gateway = chartlib.only(docs, "Gateway", GATEWAY).body
    assert gateway["spec"]["selector"] == {"istio": "ingressgateway"}
    https, http = gateway["spec"]["servers"]
    assert https["port"]["number"] == 443 and https["hosts"] == ["spam-api.example.com"]
    assert https["tls"]["credentialName"] == "spam-api-tls"
    assert http["port"]["number"] == 80 and http["tls"] == {"httpsRedirect": True}
    vs = chartlib.only(docs, "VirtualService", GATEWAY).body
    assert vs["spec"]["hosts"] == ["spam-api.example.com"]
    assert vs["spec"]["gateways"] == [GATEWAY]
    host = vs["spec"]["http"][0]["route"][0]["destination"]["host"]
    assert host == chartlib.only(docs, "DestinationRule", GATEWAY).body["spec"]["host"]
    assert host == f"{GATEWAY}.{chartlib.NAMESPACE}.svc.cluster.local"


def test_mutual_tls_is_strict_on_the_gateway_pods_and_they_get_the_sidecar():
    docs = chartlib.render_docs(chartlib.env_values("production"))
    deployment = chartlib.only(docs, "Deployment", GATEWAY).body
    selector = deployment["spec"]["selector"]["matchLabels"]
    pa = chartlib.only(docs, "PeerAuthentication", GATEWAY).body
    assert pa["spec"] == {"selector": {"matchLabels": selector}, "mtls": {"mode": "STRICT"}}
    dr = chartlib.only(docs, "DestinationRule", GATEWAY).body
    assert dr["spec"]["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["sidecar.istio.io/inject"] == "true"
    staging = chartlib.only(
        chartlib.render_docs(chartlib.env_values("staging")), "Deployment", GATEWAY
    ).body
    assert "sidecar.istio.io/inject" not in staging["spec"]["template"]["metadata"]["labels"]


def test_authorization_admits_only_the_routes_that_must_be_reachable():
    docs = chartlib.render_docs(chartlib.env_values("production"))
    ap = chartlib.only(docs, "AuthorizationPolicy", GATEWAY).body
    deployment = chartlib.only(docs, "Deployment", GATEWAY).body
    assert ap["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert ap["spec"]["action"] == "ALLOW"
    ingress, metrics, tests = ap["spec"]["rules"]
    assert ingress["from"][0]["source"]["principals"] == [
        "cluster.local/ns/istio-ingress/sa/istio-ingressgateway"
    ]
    paths = ingress["to"][0]["operation"]["paths"]
    assert "/predict" in paths and "/predict/*" in paths and "/ready" in paths
    assert not any(p in ("/*", "*", "/metrics") for p in paths), paths
    assert metrics["from"][0]["source"]["namespaces"] == ["monitoring"]
    assert metrics["to"][0]["operation"] == {
        "methods": ["GET"],
        "ports": ["8080"],
        "paths": ["/metrics"],
    }
    assert tests["from"][0]["source"]["namespaces"] == [chartlib.NAMESPACE]
    assert set(tests["to"][0]["operation"]["paths"]) == {"/health", "/ready", "/predict"}


def _istio_match(pattern: str, path: str) -> bool:
    """Istio's path match: exact, ``prefix*`` or ``*suffix``."""
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def test_every_api_route_of_the_gateway_is_reachable_through_istio():
    """A route added to the gateway must be added to the allow-list too, or production (served
    through Istio) denies it: every route but /metrics matches one of the admitted paths."""
    import re

    from spam_gateway.app.api.main import ROUTERS

    docs = chartlib.render_docs(chartlib.env_values("production"))
    ap = chartlib.only(docs, "AuthorizationPolicy", GATEWAY).body
    paths = ap["spec"]["rules"][0]["to"][0]["operation"]["paths"]
    routes = {r.path for router in ROUTERS for r in router.routes} | {"/docs", "/openapi.json"}
    concrete = {re.sub(r"\{[^}]+\}", "x", r) for r in routes if r != "/metrics"}
    denied = sorted(r for r in concrete if not any(_istio_match(p, r) for p in paths))
    assert denied == [], f"add to gateway.istio.authorizationPolicy.paths: {denied}"


def test_the_sidecar_may_reach_istiod_through_the_network_policy():
    docs = chartlib.render_docs(chartlib.env_values("production"))
    policy = chartlib.only(docs, "NetworkPolicy", GATEWAY).body
    istiod = [
        r
        for r in policy["spec"]["egress"]
        if {"protocol": "TCP", "port": 15012} in r.get("ports", [])
    ]
    assert istiod and istiod[0]["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "istio-system"
    }
    ingress_from = policy["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-ingress"}}
    } in ingress_from


def test_plain_http_gateway_without_a_tls_secret():
    values = chartlib.minimal_values(
        {"gateway": {"istio": {"enabled": True, "hosts": ["api.example.org"]}}}
    )
    docs = chartlib.render_docs(values)
    (server,) = chartlib.only(docs, "Gateway", GATEWAY).body["spec"]["servers"]
    assert server["port"] == {"number": 80, "name": "http", "protocol": "HTTP"}
    for doc in docs:
        if (doc.body["apiVersion"], doc.kind) in ISTIO_KINDS:
            assert not chartlib.crd_errors(doc.body), doc.key


# ------------------------------------------------------------------ Ray autoscaling


def test_ray_workers_autoscale_in_production_with_least_privilege():
    docs = chartlib.render_docs(chartlib.env_values("production"))
    cluster = chartlib.only(docs, "RayCluster", "spam-platform-batch").body
    assert cluster["spec"]["enableInTreeAutoscaling"] is True
    options = cluster["spec"]["autoscalerOptions"]
    assert options["upscalingMode"] == "Default" and options["idleTimeoutSeconds"] == 120
    assert options["securityContext"]["runAsNonRoot"] is True
    assert options["securityContext"]["readOnlyRootFilesystem"] is True
    (workers,) = cluster["spec"]["workerGroupSpecs"]
    assert (workers["minReplicas"], workers["maxReplicas"], workers["replicas"]) == (1, 6, 1)
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    assert head["automountServiceAccountToken"] is True  # the autoscaler sidecar's API access
    assert workers["template"]["spec"]["automountServiceAccountToken"] is False
    role = chartlib.only(docs, "Role", "spam-platform-ray-autoscaler").body
    scale = next(r for r in role["rules"] if r["apiGroups"] == ["ray.io"])
    assert scale["resourceNames"] == [cluster["metadata"]["name"]]
    assert set(scale["verbs"]) == {"get", "patch"}
    binding = chartlib.only(docs, "RoleBinding", "spam-platform-ray-autoscaler").body
    assert binding["subjects"][0]["name"] == head["serviceAccountName"]
    assert not chartlib.crd_errors(cluster)


def test_ray_workers_are_fixed_without_autoscaling():
    docs = chartlib.render_docs(chartlib.env_values("staging"))
    cluster = chartlib.only(docs, "RayCluster", "spam-platform-batch").body
    assert cluster["spec"]["enableInTreeAutoscaling"] is False
    assert "autoscalerOptions" not in cluster["spec"]
    (workers,) = cluster["spec"]["workerGroupSpecs"]
    assert workers["minReplicas"] == workers["maxReplicas"] == workers["replicas"] == 1
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    assert head["automountServiceAccountToken"] is False
    assert not [d for d in docs if d.name == "spam-platform-ray-autoscaler"]
