"""The Terraform's shape, read with python-hcl2: documented and used variables, root modules a
user can apply (README, tfvars example, backend example), module calls that match the modules,
and no secret that could land in ml-platform's state."""

from __future__ import annotations

import re

import pytest

from tests.terraform.hcl import MODULES, ROOT_MODULES, TERRAFORM, load, load_tfvars

ALL = [*ROOT_MODULES, *(f"modules/{m}" for m in MODULES)]
META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}


def test_the_modules_exist():
    assert set(ROOT_MODULES) <= {p.name for p in TERRAFORM.iterdir() if p.is_dir()}
    assert {
        "aks",
        "acr",
        "storage",
        "redis",
        "key-vault",
        "log-analytics",
        "workload-identity",
    } <= set(MODULES)


@pytest.mark.parametrize("module", ALL)
def test_every_variable_is_typed_and_documented(module):
    variables = load(module).variables
    assert variables, f"{module} declares no variable"
    for name, body in variables.items():
        assert body.get("type"), f"{module}: variable {name} has no type"
        description = body.get("description", "")
        assert isinstance(description, str) and len(description) >= 10, (
            f"{module}: variable {name} has no real description"
        )


@pytest.mark.parametrize("module", ALL)
def test_every_variable_is_used(module):
    mod = load(module)
    for name in mod.variables:
        rest = mod.text_without("variable", name)
        assert re.search(rf"\bvar\.{re.escape(name)}\b", rest), (
            f"{module}: var.{name} is never used"
        )


@pytest.mark.parametrize("module", ALL)
def test_every_output_is_documented(module):
    for name, body in load(module).named("output").items():
        assert len(body.get("description", "")) >= 10, f"{module}: output {name} undocumented"


@pytest.mark.parametrize("root", ROOT_MODULES)
def test_root_modules_ship_readme_examples_and_a_remote_backend(root):
    path = TERRAFORM / root
    for name in ("README.md", "terraform.tfvars.example", "backend.hcl.example"):
        assert (path / name).is_file(), f"{root} lacks {name}"
    backends = [
        b for block in load(root).blocks.get("terraform", []) for b in block.get("backend", [])
    ]
    assert backends and all("azurerm" in b for b in backends), f"{root}: no azurerm backend"


@pytest.mark.parametrize("root", ROOT_MODULES)
def test_tfvars_example_sets_exactly_the_declared_variables(root):
    declared = load(root).variables
    example = load_tfvars(TERRAFORM / root / "terraform.tfvars.example")
    assert set(example) <= set(declared), f"unknown in example: {set(example) - set(declared)}"
    required = {n for n, b in declared.items() if "default" not in b}
    assert required <= set(example), f"required but not in example: {required - set(example)}"
    assert set(example) == set(declared), f"not in example: {set(declared) - set(example)}"


@pytest.mark.parametrize("root", ROOT_MODULES)
def test_module_calls_match_the_modules_inputs(root):
    for name, call in load(root).named("module").items():
        target = (TERRAFORM / root / call["source"]).resolve().relative_to(TERRAFORM)
        variables = load(str(target)).variables
        given = set(call) - META_ARGUMENTS
        assert given <= set(variables), f"{root}.{name}: unknown inputs {given - set(variables)}"
        required = {n for n, b in variables.items() if "default" not in b}
        assert required <= given, f"{root}.{name}: missing inputs {required - given}"


def test_ml_platform_state_holds_no_secret():
    """Every password is ephemeral and only reaches write-only attributes; no helm value is
    sensitive (the Secrets come from Key Vault through External Secrets)."""
    ml = load("ml-platform")
    text = "\n".join(ml.sources.values())
    assert "set_sensitive" not in text
    assert not re.search(r'^resource "random_password"', text, re.M), "random_password in state"
    assert re.search(r'^ephemeral "random_password"', text, re.M)
    for module in ALL:
        for name, body in load(module).variables.items():
            if "password" in name and "version" not in name:
                assert body.get("ephemeral") is True, f"{module}: var.{name} is not ephemeral"
    pg = load("modules/postgresql")
    server = pg.blocks["resource"]
    bodies = [
        r["azurerm_postgresql_flexible_server"]["this"]
        for r in server
        if "azurerm_postgresql_flexible_server" in r
    ]
    assert bodies and "administrator_password" not in bodies[0]
    assert bodies[0]["administrator_password_wo"] == "${var.administrator_password}"
    secrets = [
        r["azurerm_key_vault_secret"]["password"]
        for r in server
        if "password" in r.get("azurerm_key_vault_secret", {})
    ]
    assert (
        secrets
        and "value" not in secrets[0]
        and secrets[0]["value_wo"] == "${var.administrator_password}"
    )


def test_storage_containers_are_named_as_the_chart_names_them():
    import yaml

    chart = yaml.safe_load((TERRAFORM.parent / "charts/spam-platform/values.yaml").read_text())
    storage = chart["global"]["storage"]
    containers = load("base-infra").variables["storage_containers"]["default"]
    assert containers["models"] == storage["modelsContainer"]
    assert containers["inference_logs"] == storage["logsContainer"]
    assert containers["datasets"] == storage["datasetsContainer"]
    assert {"baselines", "drift_reports", "mlflow_artifacts"} <= set(containers)
    values = load("ml-platform").locals["platform_values"]["global"]["storage"]
    assert values["modelsContainer"] == "${local.containers.models}"
    assert values["logsContainer"] == "${local.containers.inference_logs}"
    assert values["datasetsContainer"] == "${local.containers.datasets}"
