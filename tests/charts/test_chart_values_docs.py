"""values.yaml documentation: every leaf has an `## @param` line and every line a leaf; the
README values table, the schemas and the settings contract in the comments are current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.charts import chartlib

generate = chartlib.hack("generate")
FILES = generate.values_files()


@pytest.mark.parametrize("prefix", list(FILES), ids=lambda p: p.rstrip(".") or "umbrella")
def test_every_leaf_has_exactly_one_param_line_and_vice_versa(prefix):
    path = FILES[prefix]
    documented = [p.path for p in generate.params(path)]
    leaves = set(generate.leaves(yaml.safe_load(path.read_text())))
    assert len(documented) == len(set(documented)), "a @param is repeated"
    assert sorted(leaves - set(documented)) == [], "leaves without @param"
    assert sorted(set(documented) - leaves) == [], "@param lines without a value"


@pytest.mark.parametrize("prefix", list(FILES), ids=lambda p: p.rstrip(".") or "umbrella")
def test_every_param_is_described_within_a_section(prefix):
    for param in generate.params(FILES[prefix]):
        assert param.section, f"{param.path} before any @section"
        assert len(param.description.split()) >= 3, f"{param.path}: describe it"


def test_the_leaf_walk_counts_empty_maps_and_lists_as_leaves():
    assert generate.leaves({"a": {"b": {}, "c": [], "d": {"e": 1}}}) == {
        "a.b": {},
        "a.c": [],
        "a.d.e": 1,
    }


def test_readme_values_table_is_current():
    current = generate.README.read_text()
    assert generate.render_readme(current) == current, "run: uv run python charts/hack/generate.py"
    for prefix, path in FILES.items():
        for param in generate.params(path):
            assert f"| `{prefix}{param.path}` |" in current


def test_schemas_are_generated_from_the_values_files():
    for path, content in generate.build_all().items():
        assert path.read_text() == content, f"{path}: run uv run python charts/hack/generate.py"


def contract(values_yaml: Path, prefix: str) -> set[str]:
    """Environment variable names the values.yaml header promises to the image."""
    names = set()
    for line in values_yaml.read_text().splitlines():
        if line.startswith("##"):
            names |= set(re.findall(rf"\b({prefix}[A-Z_]+|AZURE_STORAGE_ACCOUNT_NAME)\b", line))
    return names


def rendered_env(deployment_name: str, *overrides) -> set[str]:
    docs = chartlib.render_docs(chartlib.minimal_values(*overrides))
    deployment = chartlib.only(docs, "Deployment", deployment_name).body
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in main.get("env", [])}
    for source in main.get("envFrom", []):
        config = chartlib.only(docs, "ConfigMap", source["configMapRef"]["name"]).body
        names |= set(config["data"])
    return names


def test_gateway_values_document_exactly_the_environment_the_gateway_gets():
    documented = contract(chartlib.CHART / "charts" / "gateway" / "values.yaml", "SPAM_GATEWAY_")
    feedback = {name for name in documented if name.startswith("SPAM_GATEWAY_FEEDBACK_")}
    # shadow scoring renders its switch always, the rest while it is on
    shadow = {name for name in documented if name.startswith("SPAM_GATEWAY_SHADOW_")}
    shadow.discard("SPAM_GATEWAY_SHADOW_ENABLED")
    assert (len(feedback), len(shadow)) == (7, 7)
    assert len(documented - feedback - shadow) == 25
    assert documented - feedback - shadow == rendered_env("spam-platform-gateway")
    # with feedback and shadow on: their settings too, and the Redis pair feature_store.yaml
    # expands
    on = rendered_env(
        "spam-platform-gateway",
        {"gateway": {"feedback": {"enabled": True}, "shadow": {"enabled": True}}},
    )
    assert documented == on - {"SPAM_REDIS_PASSWORD", "SPAM_REDIS_CONNECTION_STRING"}


def test_transformer_values_document_exactly_the_environment_the_transformer_gets():
    path = chartlib.CHART / "charts" / "transformer" / "values.yaml"
    documented = contract(path, "SPAM_(?:TRANSFORMER|REDIS)_")
    assert "SPAM_REDIS_CONNECTION_STRING" in documented
    # SPAM_REDIS_PASSWORD only feeds $(SPAM_REDIS_PASSWORD) in the connection string
    assert documented == rendered_env("spam-platform-transformer") - {"SPAM_REDIS_PASSWORD"}


def test_batch_values_document_exactly_the_spam_environment_of_the_ray_pods():
    path = chartlib.CHART / "charts" / "batch" / "values.yaml"
    documented = contract(path, "SPAM_(?:FEAST|REDIS|INFERENCE)_") - {"AZURE_STORAGE_ACCOUNT_NAME"}
    assert documented == {
        "SPAM_FEAST_REPO",
        "SPAM_REDIS_CONNECTION_STRING",
        "SPAM_INFERENCE_LOG_URL",
    }
    docs = chartlib.render_docs(chartlib.minimal_values())
    spec = chartlib.only(docs, "RayCluster", "spam-platform-batch").body["spec"]
    pods = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
    for pod in pods:
        (main,) = pod["template"]["spec"]["containers"]
        rendered = {e["name"] for e in main["env"] if e["name"].startswith("SPAM_")}
        # SPAM_REDIS_PASSWORD only feeds $(SPAM_REDIS_PASSWORD) in the connection string
        assert documented == rendered - {"SPAM_REDIS_PASSWORD"}
