"""The workload identities federate exactly the ServiceAccounts the chart renders, and the
ml-platform values give every ServiceAccount the client id of the identity that trusts it.

The chart is rendered like tests/charts do (the real Helm engine), with the release name and
namespace base-infra's defaults assume, for every environment file.
"""

from __future__ import annotations

import uuid

import pytest

from tests.charts import chartlib
from tests.terraform.hcl import load, resolve

CLIENT_ID = "azure.workload.identity/client-id"
# Workloads whose ServiceAccount the chart does not render yet: the drift CronJob (issue:
# "Drift CronJob"). Their subject follows the chart's naming rule; once the chart renders them,
# the equality below includes them automatically.
NOT_IN_THE_CHART_YET: set[str] = set()
# The tuning chart's Ray pods read and write nothing outside Ray (the training data reaches the
# trials through Ray's object store): no identity, and the chart keeps the global one off them.
NO_CLOUD_IDENTITY = ("tuning",)
WITH_IDENTITY = tuple(c for c in chartlib.SUBCHARTS if c not in NO_CLOUD_IDENTITY)


def federated_subjects(overrides: dict | None = None) -> dict[str, set[str]]:
    """workload -> {system:serviceaccount:<ns>:<name>} as base-infra creates them."""
    base = load("base-infra")
    out = {}
    for workload, spec in base.locals["workloads"].items():
        accounts = resolve(spec["service_accounts"], base, overrides)
        out[workload] = {f"system:serviceaccount:{a['namespace']}:{a['name']}" for a in accounts}
    return out


def platform_subject(name: str, overrides: dict | None = None) -> str:
    base = load("base-infra")
    namespace = resolve("${var.platform_namespace}", base, overrides)
    return f"system:serviceaccount:{namespace}:{name}"


def fake_client_ids() -> dict[str, str]:
    return {
        w: str(uuid.uuid5(uuid.NAMESPACE_URL, w)) for w in load("base-infra").locals["workloads"]
    }


def ml_platform_identity_values(ids: dict[str, str]) -> dict:
    """The workload-identity part of ml-platform's platform_values, local.ids resolved."""
    values = load("ml-platform").locals["platform_values"]

    def client(expr: str) -> str:
        prefix = "${local.ids."
        assert expr.startswith(prefix) and expr.endswith("}"), expr
        return ids[expr[len(prefix) : -1]]

    out: dict = {
        "global": {
            "azure": {
                "workloadIdentity": {
                    "clientId": client(values["global"]["azure"]["workloadIdentity"]["clientId"])
                }
            }
        }
    }
    for component in WITH_IDENTITY:
        annotations = values[component]["serviceAccount"]["annotations"]
        out[component] = {
            "serviceAccount": {"annotations": {CLIENT_ID: client(annotations[CLIENT_ID])}}
        }
    materialize = values["gateway"]["feedback"]["materialize"]["serviceAccount"]["annotations"]
    out["gateway"]["feedback"] = {
        "materialize": {
            "serviceAccount": {"annotations": {CLIENT_ID: client(materialize[CLIENT_ID])}}
        }
    }
    return out


def rendered_accounts(env: str, overrides: dict | None = None, values: dict | None = None):
    base = load("base-infra")
    release = resolve("${var.platform_release_name}", base, overrides)
    namespace = resolve("${var.platform_namespace}", base, overrides)
    docs = chartlib.render_docs(
        chartlib.env_values(env, values or {}), name=release, namespace=namespace
    )
    return [d for d in docs if d.kind == "ServiceAccount"]


@pytest.mark.parametrize("env", sorted(chartlib.ENV_FILES))
def test_federated_subjects_are_the_chart_service_accounts(env):
    subjects = federated_subjects()
    rendered = {
        platform_subject(d.name) for d in rendered_accounts(env) if CLIENT_ID in d.annotations
    }
    assert rendered, "the chart renders no workload-identity ServiceAccount"
    platform = {
        w: s for w, s in subjects.items() if all(x.startswith(platform_subject("")) for x in s)
    }
    declared = set().union(*platform.values())
    pending = set().union(*(platform[w] for w in NOT_IN_THE_CHART_YET))
    assert rendered - declared == set(), "a ServiceAccount without a federated identity"
    assert declared - rendered <= pending, "a federated subject the chart does not render"


def test_subjects_follow_another_release_name():
    overrides = {"platform_release_name": "spam-prod", "platform_namespace": "ml"}
    subjects = federated_subjects(overrides)
    rendered = {
        platform_subject(d.name, overrides)
        for d in rendered_accounts("production", overrides)
        if CLIENT_ID in d.annotations
    }
    declared = set().union(*(s for w, s in subjects.items() if w not in NOT_IN_THE_CHART_YET))
    assert rendered <= declared
    assert "system:serviceaccount:ml:spam-prod-gateway" in rendered


def test_a_misnamed_subject_is_caught():
    """The comparison can fail: a chart release name base-infra does not know differs."""
    subjects = set().union(*federated_subjects().values())
    rendered = {
        platform_subject(d.name)
        for d in rendered_accounts("production", {"platform_release_name": "other"})
    }
    assert rendered and not (rendered & subjects)


@pytest.mark.parametrize("env", sorted(chartlib.ENV_FILES))
def test_each_service_account_gets_the_identity_that_trusts_it(env):
    ids = fake_client_ids()
    by_client = {cid: w for w, cid in ids.items()}
    subjects = federated_subjects()
    accounts = rendered_accounts(env, values=ml_platform_identity_values(ids))
    assert {d.name for d in accounts} >= {f"spam-platform-{c}" for c in WITH_IDENTITY}
    for doc in accounts:
        workload = by_client[doc.annotations[CLIENT_ID]]
        assert platform_subject(doc.name) in subjects[workload], (doc.name, workload)


def test_the_tuning_cluster_gets_no_cloud_identity():
    """With the global client id and the identities set, the tuning ServiceAccount still has
    none: base-infra federates no identity with it."""
    ids = fake_client_ids()
    values = ml_platform_identity_values(ids)
    values["tuning"] = {"enabled": True}
    accounts = {d.name: d for d in rendered_accounts("production", values=values)}
    assert "spam-platform-tuning" in accounts
    assert CLIENT_ID not in accounts["spam-platform-tuning"].annotations
    assert "tuning" not in load("base-infra").locals["workloads"]
    values["tuning"]["serviceAccount"] = {"annotations": {"example.com/team": "ml"}}
    accounts = {d.name: d for d in rendered_accounts("production", values=values)}
    assert accounts["spam-platform-tuning"].annotations == {"example.com/team": "ml"}


def test_least_privilege_roles():
    workloads = load("base-infra").locals["workloads"]

    def grants(workload: str) -> set[tuple[str, str]]:
        return {(r["scope"], r["role"]) for r in workloads[workload]["roles"].values()}

    contributor, reader = "Storage Blob Data Contributor", "Storage Blob Data Reader"
    models, logs = "${local.c.models}", "${local.c.inference_logs}"
    assert (logs, contributor) in grants("gateway")
    assert not any(scope == models for scope, _ in grants("gateway")), (
        "gateway must not read models"
    )
    assert grants("inference") == {(models, reader)}
    assert (models, contributor) in grants("trainer")
    writers_of_models = {w for w in workloads if (models, contributor) in grants(w)}
    assert writers_of_models == {"trainer"}
    for workload in workloads:
        for scope, role in grants(workload):
            assert "Owner" not in role and role != "Contributor", (workload, role)
            assert "resource_group" not in scope, (workload, scope)
