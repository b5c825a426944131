"""Rendering, parsing and validation helpers for the chart tests (no helm binary, no cluster).

The real Helm engine comes from helm-python-sdk. A render mutates the loaded chart (a disabled
subchart is dropped for later renders), so every render loads the chart afresh.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import yaml
from helm_python import _native

REPO = Path(__file__).resolve().parents[2]
# CI runs in a fresh clone with the read-only shared/ folder beside the repository.
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CRDS = SHARED / "crds"
CHART = REPO / "charts" / "spam-platform"
SUBCHARTS = ("gateway", "transformer", "inference", "batch", "drift", "tuning")
LIBRARY = CHART / "charts" / "spam-common"
HACK = REPO / "charts" / "hack"
ENV_FILES = {p.stem: p for p in sorted((REPO / "values").glob("*.yaml"))}
CI_FILES = {p.name: p for p in sorted((CHART / "ci").glob("*-values.yaml"))}


@cache
def hack(name: str) -> Any:
    """A script of charts/hack/ (not a package) imported as a module, once."""
    spec = importlib.util.spec_from_file_location(f"charts_hack_{name}", HACK / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RELEASE = "spam-platform"
NAMESPACE = "spam-platform"
KUBE_VERSION = "v1.30.0"
MONITORING_API = "monitoring.coreos.com/v1"
# What `--set` adds at install: the model versions are not kept in the environment files.
INSTALL_SET = {
    "global": {"model": {"tracks": {"staging": {"version": "8"}, "production": {"version": "7"}}}}
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm-style merge of two values maps (override wins, maps merge recursively)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def env_values(env: str, *overrides: Mapping[str, Any]) -> dict[str, Any]:
    """values/<env>.yaml plus the install-time --set of the model versions."""
    values = deep_merge(load_values(ENV_FILES[env]), INSTALL_SET)
    for override in overrides:
        values = deep_merge(values, override)
    return values


def ci_values(name: str, *overrides: Mapping[str, Any]) -> dict[str, Any]:
    values = load_values(CI_FILES[name])
    for override in overrides:
        values = deep_merge(values, override)
    return values


def minimal_values(*overrides: Mapping[str, Any]) -> dict[str, Any]:
    return ci_values("01-minimal-values.yaml", *overrides)


def render(
    values: Mapping[str, Any] | None = None,
    *,
    chart: Path = CHART,
    kube_version: str = KUBE_VERSION,
    api_versions: tuple[str, ...] = (),
    name: str = RELEASE,
    namespace: str = NAMESPACE,
) -> dict[str, str]:
    """Template path -> rendered text, like `helm template` (hooks and NOTES.txt included)."""
    options = {
        "name": name,
        "namespace": namespace,
        "kube_version": kube_version,
        "api_versions": list(api_versions),
        "is_install": True,
    }
    with helm_python.Chart.load(chart) as loaded:
        out = _native.call_string(
            "helm_render", loaded._raw(), json.dumps(dict(values or {})), json.dumps(options)
        )
    return json.loads(out)


@dataclass(frozen=True)
class Doc:
    """One rendered Kubernetes object and the template it came from."""

    template: str
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def key(self) -> tuple[str, str]:
        return self.kind, self.name

    @property
    def annotations(self) -> dict[str, str]:
        return self.body["metadata"].get("annotations") or {}

    @property
    def is_test_hook(self) -> bool:
        return self.annotations.get("helm.sh/hook") == "test"


def parse(rendered: Mapping[str, str]) -> list[Doc]:
    """Every YAML document of a render (NOTES.txt excluded); fails on invalid YAML."""
    docs = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            continue
        for body in yaml.safe_load_all(text):
            if body is None:
                continue
            assert isinstance(body, dict), f"{template}: not a mapping"
            docs.append(Doc(template, body))
    return docs


def render_docs(values: Mapping[str, Any] | None = None, **kw: Any) -> list[Doc]:
    return parse(render(values, **kw))


def by_key(docs: list[Doc]) -> dict[tuple[str, str], Doc]:
    out = {}
    for doc in docs:
        assert doc.key not in out, f"duplicate object {doc.key}"
        out[doc.key] = doc
    return out


def only(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d.kind == kind and (name is None or d.name == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d.name for d in found]}"
    return found[0]


def kinds(docs: list[Doc]) -> set[str]:
    return {d.kind for d in docs}


def container(pod_spec: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A container of a pod spec, selected by name (order does not matter)."""
    found = [c for c in pod_spec.get("containers", []) if c["name"] == name]
    assert len(found) == 1, f"no single container {name!r}"
    return found[0]


def pod_specs(doc: Doc) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, pod spec) of every pod an object creates, custom resources included."""
    body, kind = doc.body, doc.kind
    if kind == "Pod":
        yield "spec", body["spec"]
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        yield "spec.template.spec", body["spec"]["template"]["spec"]
    elif kind == "CronJob":
        yield "jobTemplate", body["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "RayCluster":
        yield "headGroupSpec", body["spec"]["headGroupSpec"]["template"]["spec"]
        for group in body["spec"].get("workerGroupSpecs", []):
            yield f"workerGroupSpecs[{group['groupName']}]", group["template"]["spec"]
    elif kind == "InferenceService":
        predictor = body["spec"]["predictor"]
        spec = {k: v for k, v in predictor.items() if k != "model"}
        spec["containers"] = [{"name": "kserve-container", **predictor["model"]}]
        yield "spec.predictor", spec
    elif kind == "ConfigMap":
        for key, text in (body.get("data") or {}).items():
            if key.endswith(".yaml"):
                embedded = yaml.safe_load(text)
                if isinstance(embedded, dict) and embedded.get("kind") == "RayJob":
                    template = embedded["spec"].get("submitterPodTemplate")
                    if template:
                        yield f"data[{key}].submitterPodTemplate", template["spec"]


def embedded_rayjobs(docs: list[Doc]) -> list[dict[str, Any]]:
    """The RayJob templates held in ConfigMaps (what the gateway submits)."""
    out = []
    for doc in docs:
        if doc.kind != "ConfigMap":
            continue
        for key, text in (doc.body.get("data") or {}).items():
            if key.endswith(".yaml"):
                embedded = yaml.safe_load(text)
                if isinstance(embedded, dict) and embedded.get("kind") == "RayJob":
                    out.append(embedded)
    return out


# ---------------------------------------------------------------- custom resources


def _to_json_schema(node: Any) -> Any:
    """An openAPIV3Schema node -> JSON Schema (draft 7).

    Kubernetes extensions: int-or-string becomes anyOf integer/string, preserve-unknown-fields
    keeps an object open (and untyped when no type is given), nullable adds "null". Objects with
    declared properties and no additionalProperties are closed: the API server's strict field
    validation rejects unknown fields too. CEL rules (x-kubernetes-validations), defaults and
    list-type hints cannot be checked offline and are dropped.
    """
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("nullable", "format", "default"):
            continue
        if key == "properties":
            out[key] = {k: _to_json_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = value if isinstance(value, bool) else _to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_to_json_schema(v) for v in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}], **out}
    if node.get("x-kubernetes-preserve-unknown-fields"):
        out.pop("additionalProperties", None)
    elif "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def crd_validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> validator, for every served version of every shared CRD."""
    out = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=_LOADER)  # 4.5 MB: the C loader is 5x faster
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if not version.get("served", True):
                continue
            schema = _to_json_schema(version["schema"]["openAPIV3Schema"])
            # ObjectMeta is validated by the API server, not by the CRD schema; apiVersion and
            # kind are implicit (Istio's CRD schemas declare only spec and status).
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            schema["properties"].setdefault("apiVersion", {"type": "string"})
            schema["properties"].setdefault("kind", {"type": "string"})
            out[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return out


def crd_errors(body: Mapping[str, Any]) -> list[str]:
    """Schema violations of a custom resource ("<path>: <message>"); KeyError if no CRD."""
    validator = crd_validators()[(body["apiVersion"], body["kind"])]
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    ]


# name -> values of one `helm install`: the environment files and the ci/ scenarios
SCENARIOS: dict[str, dict[str, Any]] = {
    **{f"values/{env}.yaml": env_values(env) for env in ENV_FILES},
    **{f"ci/{name}": ci_values(name) for name in CI_FILES},
}


def networkpolicies_on(values: dict[str, Any]) -> bool:
    return bool(values.get("global", {}).get("networkPolicy", {}).get("enabled"))
