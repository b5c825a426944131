"""Every chart's values.schema.json and the chart README's values tables, from values.yaml.

    uv run python charts/hack/generate.py          # rewrite the schemas and the README tables
    uv run python charts/hack/generate.py --check  # exit 1 if a generated file is stale

The values.yaml files are the one source. Two well-known annotation formats live side by side:

- bitnami readme-generator's `## @section <title>` and `## @param <path> <description>`: every
  leaf has one `@param` line; its text is the README's description and the schema's.
- dadav/helm-schema's `# @schema` blocks: the YAML between two `# @schema` lines, in the comments
  right above a key, holds that key's JSON-schema keywords (`enum`, `pattern`, `minimum`,
  `items`, `if`/`then`, …); `# @schema.root` blocks before the first key apply to the whole
  file. `$ref: <file>#/<pointer>` inlines a fragment (charts/hack/schema-definitions.yaml holds
  the shared ones); the other keywords of the block win over the fragment's.

What the generator infers, as helm-schema does: the type from the default (a block's `type`,
`anyOf` or `oneOf` replaces it); a non-empty map is a closed object (`additionalProperties:
false`) whose keys are all required (`required: false` in a key's block makes it optional); an
empty map `{}` is an open object unless its block says more; a list's `items` from its entries
(an empty list needs `items` in its block). A block's `properties` constrain keys the map has;
keys it does not have are left out (a shared fragment may name keys some charts lack).

Added by the generator, not written in values.yaml: every subchart accepts `global` (validated
by the umbrella), `enabled` (the umbrella's toggle) and the library's `spam-common` key; the
umbrella's component keys stay open objects, the subchart's own schema validates the rest.
Mutually exclusive options are `if`/`then` rules in the blocks and `fail` guards in the templates
(`<chart>.validateValues`), so they hold even with `--skip-schema-validation`.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHARTS = Path(__file__).resolve().parents[1]
CHART = CHARTS / "spam-platform"
README = CHART / "README.md"
DEFINITIONS = CHARTS / "hack" / "schema-definitions.yaml"
SUBCHARTS = ("gateway", "transformer", "inference", "batch", "drift", "tuning")
LIBRARY = "spam-common"
DRAFT = "http://json-schema.org/draft-07/schema#"
START, END = "<!-- values:start -->", "<!-- values:end -->"
PARAM = re.compile(r"^\s*## @param (\S+) (.+?)\s*$")
SECTION = re.compile(r"^\s*## @section (.+?)\s*$")
MARKER = re.compile(r"^\s*# @schema(\.root)?\s*$")
TYPE_KEYWORDS = ("type", "anyOf", "oneOf", "allOf")
KEYWORDS = {  # draft-07 (a misspelt keyword would silently constrain nothing)
    *("$schema", "$comment", "title", "description", "default", "examples", "deprecated"),
    *("type", "enum", "const", "anyOf", "oneOf", "allOf", "not", "if", "then", "else"),
    *("multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
    *("minLength", "maxLength", "pattern", "format"),
    *("items", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains"),
    *("properties", "additionalProperties", "patternProperties", "propertyNames"),
    *("required", "minProperties", "maxProperties", "dependencies"),
}
KEY_ORDER = ("$schema", "description", "type", "anyOf", "const", "enum", "properties")
Schema = dict[str, Any]


class AnnotationError(ValueError):
    """A values.yaml annotation the generator cannot use; the message names file and line."""


@dataclass(frozen=True)
class Param:
    path: str
    description: str
    section: str


@dataclass
class ValuesFile:
    """One values.yaml: its lines, @param lines, @schema blocks and YAML tree."""

    path: Path
    lines: list[str]
    tree: yaml.MappingNode
    params: dict[str, Param]
    root: Schema = field(default_factory=dict)
    blocks: dict[int, Schema] = field(default_factory=dict)  # key line -> its block


# --- reading values.yaml


def values_files() -> dict[str, Path]:
    """Prefix ("" for the umbrella, "<subchart>." otherwise) -> values.yaml."""
    files = {"": CHART / "values.yaml"}
    files.update({f"{name}.": CHART / "charts" / name / "values.yaml" for name in SUBCHARTS})
    return files


def params(path: Path) -> list[Param]:
    """The @param lines of a values.yaml, in file order, with their @section."""
    section, out = "", []
    for line in path.read_text().splitlines():
        if m := SECTION.match(line):
            section = m.group(1)
        elif m := PARAM.match(line):
            out.append(Param(m.group(1), m.group(2), section))
    return out


def leaves(values: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value of every leaf: scalars, lists and empty maps."""
    if isinstance(values, dict) and values:
        out: dict[str, Any] = {}
        for key, value in values.items():
            out.update(leaves(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): values}


def _block(path: Path, lines: list[str], start: int, end: int) -> Schema:
    body = "\n".join(re.sub(r"^\s*# ?", "", line) for line in lines[start + 1 : end])
    try:
        block = yaml.safe_load(body) or {}
    except yaml.YAMLError as err:
        raise AnnotationError(f"{path}:{start + 1}: @schema block is not YAML: {err}") from err
    if not isinstance(block, dict):
        raise AnnotationError(f"{path}:{start + 1}: @schema block must be a mapping of keywords")
    return block


def read(path: Path) -> ValuesFile:
    text = path.read_text()
    lines = text.splitlines()
    tree = yaml.compose(text)
    if not isinstance(tree, yaml.MappingNode):
        raise AnnotationError(f"{path}: values must be a mapping")
    vf = ValuesFile(path, lines, tree, {p.path: p for p in params(path)})
    markers = [(i, bool(m.group(1))) for i, line in enumerate(lines) if (m := MARKER.match(line))]
    opening, closing = markers[::2], markers[1::2]
    paired = len(opening) == len(closing)
    if not paired or any(a[1] != b[1] for a, b in zip(opening, closing, strict=True)):
        raise AnnotationError(f"{path}: a `# @schema` block without its closing line")
    first_key = tree.value[0][0].start_mark.line if tree.value else len(lines)
    key_lines = _key_lines(tree)
    for (start, root), (end, _) in zip(opening, closing, strict=True):
        block = _block(path, lines, start, end)
        if root:
            if end > first_key:
                raise AnnotationError(f"{path}:{start + 1}: @schema.root after the first key")
            vf.root = block
            continue
        # the block annotates the key right below its run of comment lines
        below = end + 1
        while below < len(lines) and lines[below].lstrip().startswith("#"):
            below += 1
        if below not in key_lines or below in vf.blocks:
            raise AnnotationError(
                f"{path}:{start + 1}: @schema block not right above a key (only comment lines "
                "between), or a second block for one key"
            )
        vf.blocks[below] = block
    return vf


def _key_lines(node: yaml.Node) -> set[int]:
    return {key.start_mark.line for key in _keys(node)}


# --- $ref and merging


def merge(base: Any, over: Any) -> Any:
    """`over` deep-merged onto `base` (maps merge, anything else is replaced)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    return over


class Refs:
    """Resolves `$ref: <file>#/<pointer>` (relative to the referring file) by inlining."""

    def __init__(self) -> None:
        self.files: dict[Path, Any] = {}

    def load(self, path: Path) -> Any:
        if path not in self.files:
            if not path.exists():
                raise AnnotationError(f"$ref to a missing file: {path}")
            self.files[path] = yaml.safe_load(path.read_text())
        return self.files[path]

    def resolve(self, schema: Any, base: Path) -> Any:
        if isinstance(schema, list):
            return [self.resolve(item, base) for item in schema]
        if not isinstance(schema, dict):
            return schema
        out = {key: self.resolve(value, base) for key, value in schema.items() if key != "$ref"}
        if "$ref" not in schema:
            return out
        target, _, pointer = str(schema["$ref"]).partition("#")
        file = (base.parent / target).resolve() if target else base
        fragment = self.load(file)
        for part in [p for p in pointer.split("/") if p]:
            if not isinstance(fragment, dict) or part not in fragment:
                raise AnnotationError(f"{base}: $ref {schema['$ref']!r} names nothing")
            fragment = fragment[part]
        return merge(self.resolve(fragment, file), out)


# --- building a schema


def _ordered(schema: Schema) -> Schema:
    head = {key: schema[key] for key in KEY_ORDER if key in schema}
    return {**head, **{k: v for k, v in schema.items() if k not in head}}


SCALAR_TYPES = {
    "tag:yaml.org,2002:bool": "boolean",
    "tag:yaml.org,2002:int": "integer",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:str": "string",
}


class Builder:
    def __init__(self, vf: ValuesFile, refs: Refs) -> None:
        self.vf, self.refs = vf, refs

    def where(self, node: yaml.Node) -> str:
        return f"{self.vf.path}:{node.start_mark.line + 1}"

    def type_of(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "object"
        if isinstance(node, yaml.SequenceNode):
            return "array"
        if node.tag not in SCALAR_TYPES:
            raise AnnotationError(f"{self.where(node)}: no type in {node.value!r}: give `type`")
        return SCALAR_TYPES[node.tag]

    def annotation(self, key: yaml.Node) -> Schema:
        block = self.vf.blocks.get(key.start_mark.line, {})
        return self.refs.resolve(block, self.vf.path)

    def root(self) -> Schema:
        ann = self.refs.resolve(self.vf.root, self.vf.path)
        schema, _ = self.build(self.vf.tree, (), ann)
        return schema

    def build(self, node: yaml.Node, path: tuple[str, ...], ann: Schema) -> tuple[Schema, bool]:
        """The schema of one value and whether its parent requires it."""
        ann = dict(ann)
        required = ann.pop("required") if isinstance(ann.get("required"), bool) else True
        dotted = ".".join(path)
        leaf = not (isinstance(node, yaml.MappingNode) and node.value)
        param = self.vf.params.get(dotted)
        schema: Schema = {}
        if leaf:
            if "description" in ann:
                raise AnnotationError(
                    f"{self.where(node)}: {dotted} is described by its @param line, not @schema"
                )
            if not param:
                raise AnnotationError(f"{self.where(node)}: {dotted} has no `## @param` line")
            schema["description"] = param.description
        schema["type"] = self.type_of(node)
        if isinstance(node, yaml.MappingNode) and node.value:
            schema.update(self.mapping(node, path, ann))
        elif isinstance(node, yaml.SequenceNode):
            items = self.items(node, ann.pop("items", None))
            if items is None:
                raise AnnotationError(f"{self.where(node)}: {dotted} is empty: give its `items`")
            schema["items"] = items
        if any(k in ann for k in TYPE_KEYWORDS):
            del schema["type"]
        schema.update(ann)
        return _ordered(schema), bool(required)

    def mapping(self, node: yaml.MappingNode, path: tuple[str, ...], ann: Schema) -> Schema:
        given = ann.pop("properties", {})
        properties: Schema = {}
        required: list[str] = []
        for key, value in node.value:
            name = key.value
            block = self.vf.blocks.get(key.start_mark.line, {})
            if isinstance(value, yaml.MappingNode) and value.value:
                extra = set(block.get("properties", {})) - {k.value for k, _ in value.value}
                if extra:
                    raise AnnotationError(
                        f"{self.where(key)}: @schema names keys {name} does not have: "
                        f"{sorted(extra)}"
                    )
            child_ann = merge(given.get(name, {}), self.annotation(key))
            properties[name], needed = self.build(value, (*path, name), child_ann)
            if needed:
                required.append(name)
        out: Schema = {"properties": properties, "additionalProperties": False}
        if required:
            out["required"] = required
        return out

    def items(self, node: yaml.SequenceNode, given: Schema | None) -> Schema | None:
        inferred: Schema | None = None
        kinds = {self.type_of(item) for item in node.value}
        if len(kinds) == 1:
            inferred = {"type": kinds.pop()}
        if given is None:
            return inferred
        if inferred is None or any(k in given for k in TYPE_KEYWORDS):
            return _ordered(given)
        return _ordered(merge(inferred, given))


def check_keywords(schema: Any, where: str) -> None:
    """Every key of every (sub)schema is a draft-07 keyword."""
    if not isinstance(schema, dict):
        return
    if unknown := set(schema) - KEYWORDS:
        raise AnnotationError(f"{where}: not JSON-schema keywords: {sorted(unknown)}")
    for name, sub in schema.get("properties", {}).items():
        check_keywords(sub, f"{where}.{name}")
    for key in ("items", "additionalProperties", "not", "if", "then", "else", "contains"):
        check_keywords(schema.get(key), f"{where} {key}")
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            check_keywords(sub, f"{where} {key}")


def chart_description(chart_dir: Path) -> str:
    return " ".join(yaml.safe_load((chart_dir / "Chart.yaml").read_text())["description"].split())


def build_schema(chart_dir: Path, refs: Refs) -> Schema:
    vf = read(chart_dir / "values.yaml")
    schema = Builder(vf, refs).root()
    props = schema["properties"]
    if chart_dir == CHART:
        for name in SUBCHARTS:  # the subchart's own schema validates the rest
            props[name].pop("additionalProperties", None)
            props[name]["description"] = (
                f"{chart_description(chart_dir / 'charts' / name)} "
                "(the rest is validated by the subchart's schema)"
            )
        props[LIBRARY] = {"type": "object", "description": "Added by Helm for the library"}
    else:
        schema["properties"] = {
            "global": {"type": "object", "description": "Shared values, validated by the umbrella"},
            "enabled": {
                "type": "boolean",
                "description": "The umbrella chart's <component>.enabled toggle",
            },
            LIBRARY: {"type": "object", "description": "Added by Helm for the library"},
            **props,
        }
    schema["description"] = chart_description(chart_dir)
    check_keywords(schema, str(chart_dir / "values.yaml"))
    return _ordered({"$schema": DRAFT, **schema})


def chart_dirs() -> list[Path]:
    return [CHART, *(CHART / "charts" / name for name in SUBCHARTS)]


def _fragment_keys(schema: Any, where: str) -> dict[str, str]:
    """Key name -> where, for every `properties` key of the fragments (nested ones too) that
    constrains keys of values.yaml; a complete object (`additionalProperties` given, as
    `resources` for `resources: {}`) declares its keys itself."""
    out: dict[str, str] = {}
    if isinstance(schema, dict) and "additionalProperties" not in schema:
        for name, sub in schema.get("properties", {}).items():
            out[name] = f"{where}.{name}"
            out.update(_fragment_keys(sub, f"{where}.{name}"))
        for key in ("if", "then", "else"):
            if key in schema:
                out.update(_fragment_keys(schema[key], where))
    return out


def check_definitions() -> None:
    """A fragment key that no values file has is a typo: it would constrain nothing."""
    names: set[str] = set()
    for chart_dir in chart_dirs():
        names |= {key.value for key in _keys(yaml.compose((chart_dir / "values.yaml").read_text()))}
    for name, fragment in yaml.safe_load(DEFINITIONS.read_text()).items():
        for key, where in _fragment_keys(fragment, name).items():
            if key not in names:
                raise AnnotationError(f"{DEFINITIONS}: {where} matches no key of a values file")


def _keys(node: yaml.Node) -> list[yaml.Node]:
    out: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out += [key, *_keys(value)]
    return out


def build_all() -> dict[Path, str]:
    """Every schema file and its content."""
    check_definitions()
    refs = Refs()
    return {
        chart_dir / "values.schema.json": json.dumps(build_schema(chart_dir, refs), indent=2) + "\n"
        for chart_dir in chart_dirs()
    }


# --- README tables


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(value: Any) -> str:
    return "`" + _cell(json.dumps(value, separators=(", ", ": "))) + "`"


def tables() -> str:
    chunks = []
    for prefix, path in values_files().items():
        defaults = leaves(yaml.safe_load(path.read_text()))
        section = None
        for param in params(path):
            if param.section != section:
                section = param.section
                chunks.append(f"\n### {section}\n")
                chunks.append("| Name | Description | Default |")
                chunks.append("| --- | --- | --- |")
            name = f"`{prefix}{param.path}`"
            default = _default(defaults.get(param.path))
            chunks.append(f"| {name} | {_cell(param.description)} | {default} |")
    return "\n".join(chunks).strip() + "\n"


def render_readme(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n\n{tables()}\n{END}{tail}"


def generated() -> dict[Path, str]:
    """Every generated file and the content it must have."""
    return {**build_all(), README: render_readme(README.read_text())}


def main(argv: list[str]) -> int:
    try:
        files = generated()
    except AnnotationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if "--check" not in argv:
        for path, content in files.items():
            path.write_text(content)
        return 0
    stale = [path for path, content in files.items() if path.read_text() != content]
    for path in stale:
        print(f"stale: {path} (run: uv run python charts/hack/generate.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
