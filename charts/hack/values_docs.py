"""The values reference of charts/spam-platform/README.md, generated from values.yaml comments.

Every leaf of every values.yaml (the umbrella's and each subchart's) carries one
`## @param <path> <description>` line (bitnami readme-generator style) and every
`## @section <title>` starts a group. This script renders them as Markdown tables between
the README's `<!-- values:start -->` and `<!-- values:end -->` markers.

    uv run python charts/hack/values_docs.py          # rewrite the README tables
    uv run python charts/hack/values_docs.py --check  # exit 1 if the README is stale
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "spam-platform"
README = CHART / "README.md"
SUBCHARTS = ("gateway", "transformer", "inference", "batch", "drift", "tuning")
START, END = "<!-- values:start -->", "<!-- values:end -->"
PARAM = re.compile(r"^\s*## @param (\S+) (.+?)\s*$")
SECTION = re.compile(r"^\s*## @section (.+?)\s*$")


@dataclass(frozen=True)
class Param:
    path: str
    description: str
    section: str


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


def main(argv: list[str]) -> int:
    current = README.read_text()
    wanted = render_readme(current)
    if "--check" in argv:
        if current != wanted:
            print(f"stale: {README} (run: uv run python charts/hack/values_docs.py)")
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
