"""The generated schemas keep every rule of the hand-written ones they replaced.

fixtures/handwritten-schemas/ holds the values.schema.json files the hand-written
charts/hack/schemas.py produced before the schemas were generated from the annotated values
files. From every rule of those schemas (types, enums, patterns, bounds, closed objects,
required keys, the if/then exclusions) this test derives values that break it, starting from
each chart's defaults, and checks that the generated schema rejects each of them at the same
instance paths — and rejects nothing the hand-written schema accepted. Values added after the
migration are outside the hand-written schemas and not compared; a rule changed on purpose
later changes its fixture file in the same commit (or the fixtures and this test go, once the
generator has earned the trust).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml

from tests.charts import chartlib

HANDWRITTEN = Path(__file__).parent / "fixtures" / "handwritten-schemas"
CHARTS = {"spam-platform": chartlib.CHART} | {
    name: chartlib.CHART / "charts" / name for name in chartlib.SUBCHARTS
}
DELETE = object()
Path_ = tuple[str, ...]

# Values tried at every place of the schema (a wrong type for each type, strings of the shapes
# the patterns tell apart, a non-member of every enum), plus the ones each rule's bounds suggest.
POOL: list[Any] = [
    None,
    True,
    False,
    -1,
    0,
    1,
    1.5,
    101,
    65536,
    "",
    "x",
    "zz-not-allowed",
    "NOT VALID",
    "/x",
    "1x",
    "5",
    "*",
    "off",
    "abfs://",
    "http://",
    [],
    [""],
    ["*"],
    {},
    {"zz": 1},
]


def bounds(schema: dict[str, Any], current: Any) -> list[Any]:
    out: list[Any] = []
    for key in ("minimum", "exclusiveMinimum"):
        if key in schema:
            out += [schema[key], schema[key] - 1, schema[key] - 0.5]
    for key in ("maximum", "exclusiveMaximum"):
        if key in schema:
            out += [schema[key], schema[key] + 1, schema[key] + 0.5]
    if "maxLength" in schema:
        out.append("a" * (schema["maxLength"] + 1))
    if schema.get("uniqueItems") and isinstance(current, list) and current:
        out.append([current[0], current[0]])
    return out


def mutations(schema: Any, instance: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """(path, value) pairs worth trying: every pool value, bounds, unknown and missing keys."""
    if not isinstance(schema, dict):
        return
    for value in POOL + bounds(schema, instance):
        yield path, value
    for branch in schema.get("anyOf", []):
        for value in bounds(branch, instance):
            yield path, value
    if "items" in schema:
        for value in POOL + bounds(schema["items"], None):
            yield path, [value]
    if isinstance(instance, dict):
        if schema.get("additionalProperties") is False:
            yield (*path, "zzUnknownKey"), "x"
        elif isinstance(schema.get("additionalProperties"), dict):
            for value in POOL:
                yield (*path, "zzKey"), value
        for key in schema.get("required", []):
            yield (*path, key), DELETE
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                yield from mutations(sub, instance[key], (*path, key))


def condition(schema: dict[str, Any], instance: Any) -> Any:
    """`instance` changed so that it meets an `if` (its consts and required keys)."""
    if "const" in schema:
        return schema["const"]
    if not isinstance(instance, dict):
        return instance
    out = dict(instance)
    for key in schema.get("required", []):
        out.setdefault(key, {})
    for key, sub in schema.get("properties", {}).items():
        if key in out or "const" in sub:
            out[key] = condition(sub, out.get(key, {}))
    return out


def conditionals(schema: Any, instance: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """For every if/then: the instance meeting the `if`, set at its place."""
    if not isinstance(schema, dict) or not isinstance(instance, dict):
        return
    if "if" in schema:
        yield path, condition(schema["if"], instance)
    for key, sub in schema.get("properties", {}).items():
        if key in instance:
            yield from conditionals(sub, instance[key], (*path, key))


def put(instance: Any, path: Path_, value: Any) -> Any:
    """A copy of `instance` with `value` at `path` (DELETE removes the key)."""
    if not path:
        return value
    out = dict(instance)
    head, rest = path[0], path[1:]
    if not rest and value is DELETE:
        out.pop(head, None)
    else:
        out[head] = put(out.get(head, {}), rest, value)
    return out


def get(instance: Any, path: Path_) -> Any:
    for key in path:
        instance = instance[key]
    return instance


def known(instance: Any, schema: Any) -> Any:
    """`instance` without the keys the hand-written schema never had (values added since)."""
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return instance
    props = schema.get("properties", {})
    if schema.get("additionalProperties") is not False:
        return instance
    return {k: known(v, props[k]) for k, v in instance.items() if k in props}


def error_paths(validator: jsonschema_rs.Draft7Validator, instance: Any) -> set[Path_]:
    return {tuple(str(p) for p in e.instance_path) for e in validator.iter_errors(instance)}


def cases(old_schema: dict[str, Any], defaults: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """(values for the hand-written schema, the same values for the generated one)."""
    base = known(defaults, old_schema)
    for path, value in mutations(old_schema, base):
        yield put(base, path, value), put(defaults, path, value)
    for where, met in conditionals(old_schema, base):
        # the `then` rules bind once the `if` holds: break them on values that meet it
        rule = old_schema
        for key in where:
            rule = rule["properties"][key]
        old_start = put(base, where, met)
        new_start = put(defaults, where, condition(rule["if"], get(defaults, where)))
        for path, value in mutations(rule["then"], met, where):
            yield put(old_start, path, value), put(new_start, path, value)


@pytest.mark.parametrize("chart", list(CHARTS))
def test_generated_schema_rejects_what_the_handwritten_one_rejected_at_the_same_place(chart):
    chart_dir = CHARTS[chart]
    old_schema = json.loads((HANDWRITTEN / f"{chart}.json").read_text())
    old = jsonschema_rs.Draft7Validator(old_schema)
    new = jsonschema_rs.Draft7Validator(json.loads((chart_dir / "values.schema.json").read_text()))
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text())
    assert not error_paths(old, known(defaults, old_schema)), "defaults break the old schema"
    assert not error_paths(new, defaults), "defaults break the generated schema"
    rejected = looser = stricter = 0
    problems = []
    for instance_old, instance_new in cases(old_schema, defaults):
        before, after = error_paths(old, instance_old), error_paths(new, instance_new)
        if before:
            rejected += 1
            if not before <= after:
                looser += 1
                problems.append(f"{json.dumps(instance_new)[:300]}: {before} -> {after}")
        elif after:
            stricter += 1
            problems.append(f"now rejected: {after} in {json.dumps(instance_new)[:300]}")
    assert rejected > 200, "the derived values must break the old schema in many ways"
    assert not problems, f"{looser} looser, {stricter} stricter:\n" + "\n".join(problems[:20])
