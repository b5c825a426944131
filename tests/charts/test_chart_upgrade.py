"""`helm upgrade --set global.model.tracks.<track>.version=N` changes what it should, no more."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.charts import chartlib


def diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Paths where two parsed objects differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            out += diff(old.get(key), new.get(key), f"{path}/{key}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            p
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for p in diff(a, b, f"{path}/{i}")
        ]
    return [] if old == new else [path]


def changes(values: dict[str, Any], track: str, version: str) -> dict[tuple[str, str], list[str]]:
    bump = {"global": {"model": {"tracks": {track: {"version": version}}}}}
    before = chartlib.by_key(chartlib.render_docs(values))
    after = chartlib.by_key(chartlib.render_docs(chartlib.deep_merge(values, bump)))
    assert before.keys() == after.keys()
    out = {}
    for key in before:
        paths = diff(before[key].body, after[key].body)
        if paths:
            out[key] = paths
    return out


CHECKSUM = "/spec/template/metadata/annotations/checksum/config"


@pytest.mark.parametrize("env", ["production", "staging"])
@pytest.mark.parametrize("track", ["production", "staging"])
def test_a_model_bump_changes_exactly_that_track(env, track):
    values = chartlib.env_values(env)
    changed = changes(values, track, "42")
    suffix = track.upper()
    assert changed == {
        ("InferenceService", f"spam-platform-{track}"): [
            "/metadata/annotations/spam-platform/model-version",
            "/spec/predictor/model/storageUri",
        ],
        ("ConfigMap", "spam-platform-gateway"): [f"/data/SPAM_GATEWAY_MODEL_VERSION_{suffix}"],
        ("Deployment", "spam-platform-gateway"): [CHECKSUM],
        ("ConfigMap", "spam-platform-transformer"): [
            f"/data/SPAM_TRANSFORMER_FEATURES_URI_{suffix}",
            f"/data/SPAM_TRANSFORMER_MODEL_VERSION_{suffix}",
        ],
        ("Deployment", "spam-platform-transformer"): [CHECKSUM],
    }


def test_the_bumped_track_serves_the_new_version():
    values = chartlib.env_values("production")
    bumped = chartlib.deep_merge(
        values, {"global": {"model": {"tracks": {"production": {"version": 9}}}}}
    )
    docs = chartlib.render_docs(bumped)
    isvc = chartlib.only(docs, "InferenceService", "spam-platform-production").body
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == (
        "https://stspamprod.blob.core.windows.net/models/spam-detector/v9/triton"
    )
    assert isvc["metadata"]["annotations"]["spam-platform/model-version"] == "9"
    gateway = chartlib.only(docs, "ConfigMap", "spam-platform-gateway").body["data"]
    assert gateway["SPAM_GATEWAY_MODEL_VERSION_PRODUCTION"] == "9"
    transformer = chartlib.only(docs, "ConfigMap", "spam-platform-transformer").body["data"]
    assert transformer["SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION"].endswith("/v9/features.json")


def test_an_unrelated_change_does_not_roll_the_gateway():
    values = chartlib.env_values("production")
    before = chartlib.by_key(chartlib.render_docs(values))
    after = chartlib.by_key(
        chartlib.render_docs(
            chartlib.deep_merge(values, {"batch": {"autoscaling": {"maxWorkers": 8}}})
        )
    )
    differing = {k for k in before if diff(before[k].body, after[k].body)}
    assert differing == {("RayCluster", "spam-platform-batch")}


def changed_objects(values: dict[str, Any], override: dict[str, Any]) -> set[tuple[str, str]]:
    before = chartlib.by_key(chartlib.render_docs(values))
    after = chartlib.by_key(chartlib.render_docs(chartlib.deep_merge(values, override)))
    assert before.keys() == after.keys()
    return {k for k in before if diff(before[k].body, after[k].body)}


def test_a_feast_change_reaches_the_transformer_the_gateway_and_the_ray_pods_from_one_value():
    values = chartlib.env_values("production")
    registry = "https://stspamprod.blob.core.windows.net/feast/registry-v2.db"
    override = {"global": {"feast": {"registryPath": registry}}}
    # The Ray pods mount the ConfigMap as a volume (no subPath): the kubelet refreshes the file
    # and every job reads it afresh, so the RayCluster itself does not change.
    # The gateway (user feedback, on in production) rolls like the transformer.
    assert changed_objects(values, override) == {
        ("ConfigMap", "spam-platform-transformer-feast"),
        ("ConfigMap", "spam-platform-batch-feast"),
        ("ConfigMap", "spam-platform-gateway-feast"),
        ("Deployment", "spam-platform-transformer"),
        ("Deployment", "spam-platform-gateway"),
    }
    docs = chartlib.render_docs(chartlib.deep_merge(values, override))
    files = [
        chartlib.only(docs, "ConfigMap", f"spam-platform-{c}-feast").body["data"]
        for c in ("transformer", "batch", "gateway")
    ]
    assert files[0] == files[1] == files[2]
    assert f"path: {registry}\n" in files[0]["feature_store.yaml"]


def test_a_reputation_cache_change_rolls_only_the_transformer():
    values = chartlib.env_values("production")
    override = {"transformer": {"reputation": {"cacheTtlSeconds": 30}}}
    assert changed_objects(values, override) == {
        ("ConfigMap", "spam-platform-transformer"),
        ("Deployment", "spam-platform-transformer"),
    }


@pytest.mark.parametrize("env", ["production", "staging"])
def test_a_production_rollback_renders_a_change_of_the_production_track_only(env):
    """What the chart README's rollback does: production 8 -> 7 with --reuse-values. Rendered
    twice and diffed as objects and as manifest text: only production lines change."""
    import difflib

    promoted = chartlib.env_values(
        env, {"global": {"model": {"tracks": {"production": {"version": "8"}}}}}
    )
    rolled_back = chartlib.deep_merge(
        promoted, {"global": {"model": {"tracks": {"production": {"version": "7"}}}}}
    )
    before, after = chartlib.render(promoted), chartlib.render(rolled_back)
    assert before.keys() == after.keys()
    changed_lines = []
    for name in before:
        old_docs, new_docs = before[name].split("\n---"), after[name].split("\n---")
        assert len(old_docs) == len(new_docs), name
        for old_doc, new_doc in zip(old_docs, new_docs, strict=True):
            lines = [
                line
                for line in difflib.unified_diff(
                    old_doc.splitlines(), new_doc.splitlines(), lineterm="", n=0
                )
                if line[:1] in "+-" and not line.startswith(("+++", "---"))
            ]
            if not lines:
                continue
            if name.endswith("NOTES.txt"):
                assert all("production" in line.lower() for line in lines), lines
                changed_lines += lines
                continue
            body = yaml.safe_load(new_doc)
            if body["kind"] == "InferenceService":  # the production ISVC, whole
                assert body["metadata"]["name"] == "spam-platform-production", lines
            else:  # shared objects: only their production settings and the pod roll
                for line in lines:
                    assert "PRODUCTION" in line or "checksum/config" in line, (name, line)
            changed_lines += lines
    assert changed_lines, "the rollback renders no change"
    staging_track = ("_STAGING", "spam-platform-staging", "track: staging", "tracks.staging")
    assert not any(mark in line for line in changed_lines for mark in staging_track)
    assert changes(promoted, "production", "7") == {
        ("InferenceService", "spam-platform-production"): [
            "/metadata/annotations/spam-platform/model-version",
            "/spec/predictor/model/storageUri",
        ],
        ("ConfigMap", "spam-platform-gateway"): ["/data/SPAM_GATEWAY_MODEL_VERSION_PRODUCTION"],
        ("Deployment", "spam-platform-gateway"): [CHECKSUM],
        ("ConfigMap", "spam-platform-transformer"): [
            "/data/SPAM_TRANSFORMER_FEATURES_URI_PRODUCTION",
            "/data/SPAM_TRANSFORMER_MODEL_VERSION_PRODUCTION",
        ],
        ("Deployment", "spam-platform-transformer"): [CHECKSUM],
    }
