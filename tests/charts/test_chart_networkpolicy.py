"""NetworkPolicies: release-wide default deny and DNS (umbrella), then each component's allows:
ingress -> gateway -> transformer -> predictors, transformer and Ray pods -> Redis, Azure Blob
on 443."""

from __future__ import annotations

from tests.charts import chartlib

ON = {"global": {"networkPolicy": {"enabled": True}}}


def policies(override=None, base=None):
    values = chartlib.deep_merge(base or chartlib.minimal_values(ON), override or {})
    docs = chartlib.render_docs(values)
    return {d.name: d.body["spec"] for d in docs if d.kind == "NetworkPolicy"}


def peers(rule):
    return rule.get("from", rule.get("to", []))


def ports(rule):
    return {(p["protocol"], p["port"]) for p in rule.get("ports", [])}


def namespaces(rule):
    return {
        p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for p in peers(rule)
        if "namespaceSelector" in p
    }


def pod_names(rule):
    return {
        p["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
        for p in peers(rule)
        if "podSelector" in p
    }


def cidrs(rule):
    return {p["ipBlock"]["cidr"] for p in peers(rule) if "ipBlock" in p}


def test_no_policies_unless_enabled():
    docs = chartlib.render_docs(chartlib.minimal_values())
    assert "NetworkPolicy" not in chartlib.kinds(docs)


def test_default_deny_and_dns_cover_every_pod_of_the_release():
    found = policies()
    release = {
        "app.kubernetes.io/instance": chartlib.RELEASE,
        "app.kubernetes.io/part-of": "spam-platform",
    }
    deny = found["spam-platform-default-deny"]
    assert deny == {"podSelector": {"matchLabels": release}, "policyTypes": ["Ingress", "Egress"]}
    dns = found["spam-platform-allow-dns"]
    assert dns["podSelector"]["matchLabels"] == release
    (rule,) = dns["egress"]
    assert namespaces(rule) == {"kube-system"}
    assert ports(rule) == {("UDP", 53), ("TCP", 53)}


def test_gateway_is_reached_from_the_ingress_controller_and_reaches_the_transformer():
    gateway = policies()["spam-platform-gateway"]
    (inbound,) = gateway["ingress"]
    assert namespaces(inbound) == {"ingress-nginx"}
    assert pod_names(inbound) == {"gateway-test"}
    assert ports(inbound) == {("TCP", 8080)}
    egress = gateway["egress"]
    assert pod_names(egress[0]) == {"transformer"} and ports(egress[0]) == {("TCP", 8080)}
    assert cidrs(egress[1]) == {"0.0.0.0/0"} and ports(egress[1]) == {("TCP", 443)}
    assert ports(egress[2]) == {("TCP", 443), ("TCP", 6443)}  # API server: RayJobs


def test_gateway_reaches_the_api_server_only_when_it_submits_rayjobs():
    values = chartlib.ci_values("02-batch-disabled-values.yaml", ON)
    egress = policies(base=values)["spam-platform-gateway"]["egress"]
    assert len(egress) == 2
    assert all(("TCP", 6443) not in ports(rule) for rule in egress)


def test_monitoring_may_scrape_the_gateway_only_with_the_servicemonitor():
    found = policies(base=chartlib.ci_values("03-servicemonitor-values.yaml"))
    rules = found["spam-platform-gateway"]["ingress"]
    assert [namespaces(r) for r in rules] == [{"ingress-nginx"}, {"monitoring"}]


def test_transformer_takes_the_gateway_and_reaches_predictors_redis_and_blob():
    transformer = policies()["spam-platform-transformer"]
    (inbound,) = transformer["ingress"]
    assert pod_names(inbound) == {"gateway"} and ports(inbound) == {("TCP", 8080)}
    predictors, redis, blob = transformer["egress"]
    assert namespaces(predictors) == {"knative-serving", "istio-system"}
    assert ports(redis) == {("TCP", 6379)}  # global.redis.port of the minimal values
    assert ports(blob) == {("TCP", 443)}


def test_in_standard_mode_the_transformer_talks_to_the_predictor_pods():
    found = policies(base=chartlib.ci_values("04-standard-http-values.yaml"))
    predictors = found["spam-platform-transformer"]["egress"][0]
    assert pod_names(predictors) == {"inference"}
    assert ports(predictors) == {("TCP", 8080), ("TCP", 9000)}
    (inbound,) = found["spam-platform-inference"]["ingress"]
    assert pod_names(inbound) == {"transformer", "inference-test"}


def test_predictors_take_knative_traffic_and_reach_blob_for_the_model():
    inference = policies()["spam-platform-inference"]
    assert inference["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "predictor"
    (inbound,) = inference["ingress"]
    assert namespaces(inbound) == {"knative-serving", "istio-system"}
    (blob,) = inference["egress"]
    assert ports(blob) == {("TCP", 443)}


def test_ray_pods_talk_to_each_other_to_the_operator_and_blob():
    batch = policies()["spam-platform-batch"]
    internal, operator = batch["ingress"]
    assert pod_names(internal) == {"batch"} and "ports" not in internal
    assert namespaces(operator) == {"kuberay-system"} and ports(operator) == {("TCP", 8265)}
    assert pod_names(batch["egress"][0]) == {"batch"}
    assert ports(batch["egress"][1]) == {("TCP", 443)}
    assert len(batch["egress"]) == 3  # + Redis, below


def test_ray_pods_reach_the_redis_of_the_feast_online_store():
    """The Ray head (job driver) and workers (Scorer actors) read the sender reputation."""
    found = policies()
    batch = found["spam-platform-batch"]
    # the policy selects every Ray pod: head, workers and submitters carry the chart's name
    assert batch["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "batch",
        "app.kubernetes.io/instance": chartlib.RELEASE,
    }
    redis = [r for r in batch["egress"] if ports(r) == {("TCP", 6379)}]
    assert redis == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 6379}]}
    ]
    # the very rule the transformer gets
    assert redis[0] in found["spam-platform-transformer"]["egress"]
    production = policies(base=chartlib.env_values("production"))["spam-platform-batch"]
    assert [r for r in production["egress"] if ports(r) == {("TCP", 6380)}]


def test_redis_egress_can_be_narrowed_for_every_reader():
    cidr = "10.30.4.0/24"
    found = policies({"global": {"networkPolicy": {"redisCIDRs": [cidr]}}})
    for name in ("transformer", "batch"):
        redis = [r for r in found[f"spam-platform-{name}"]["egress"] if ports(r) == {("TCP", 6379)}]
        assert [cidrs(r) for r in redis] == [{cidr}], name
    for name in ("gateway", "inference"):
        egress = found[f"spam-platform-{name}"]["egress"]
        assert all(("TCP", 6379) not in ports(r) for r in egress), name


def test_production_lets_ray_jobs_reach_mlflow():
    batch = policies(base=chartlib.env_values("production"))["spam-platform-batch"]
    assert namespaces(batch["egress"][-1]) == {"mlflow"}
    assert ports(batch["egress"][-1]) == {("TCP", 5000)}


def test_blob_egress_can_be_narrowed():
    cidr = "10.20.0.0/16"
    found = policies({"global": {"networkPolicy": {"azureCIDRs": [cidr]}}})
    for name in ("gateway", "transformer", "inference", "batch"):
        blob = [r for r in found[f"spam-platform-{name}"]["egress"] if ports(r) == {("TCP", 443)}]
        assert [cidrs(r) for r in blob] == [{cidr}], name


def test_test_pods_may_reach_what_they_test():
    found = policies()
    (to_gateway,) = found["spam-platform-gateway-tests"]["egress"]
    assert pod_names(to_gateway) == {"gateway"}
    (to_predictors,) = found["spam-platform-inference-tests"]["egress"]
    assert namespaces(to_predictors) == {"knative-serving", "istio-system"}
