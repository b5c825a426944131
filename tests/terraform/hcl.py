"""Reading the Terraform under terraform/ with python-hcl2 (no terraform binary, no providers).

python-hcl2 keeps string literals quoted (`'"spam"'`) and expressions as `"${...}"`; `literal`
turns both into plain Python values. `resolve` evaluates the only expressions the tests need:
references to variables (their defaults) and locals, inside `${...}` templates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
ROOT_MODULES = ("base-infra", "ml-platform")
MODULES = tuple(sorted(p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir()))


def literal(value: Any) -> Any:
    """Unquote string literals and keys recursively; expressions stay `${...}` strings."""
    if isinstance(value, dict):
        # python-hcl2's own bookkeeping (__is_block__, __comments__, ...) is not configuration
        return {
            literal(k): literal(v)
            for k, v in value.items()
            if not (k.startswith("__") and k.endswith("__"))
        }
    if isinstance(value, list):
        return [literal(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value[1:-1]
    return value


@dataclass
class Module:
    """One Terraform module directory, parsed."""

    path: Path
    blocks: dict[str, list[Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.path.relative_to(TERRAFORM))

    def named(self, kind: str) -> dict[str, dict[str, Any]]:
        """name -> body of every `variable`/`output`/`module` block."""
        out = {}
        for block in self.blocks.get(kind, []):
            for name, body in block.items():
                assert name not in out, f"{self.name}: {kind} {name} declared twice"
                out[name] = body
        return out

    @property
    def variables(self) -> dict[str, dict[str, Any]]:
        return self.named("variable")

    @property
    def locals(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for block in self.blocks.get("locals", []):
            out.update(block)
        return out

    def text_without(self, kind: str, name: str) -> str:
        """All .tf text of the module minus the declaration of one block."""
        pattern = re.compile(rf'^{kind} "{re.escape(name)}" {{.*?^}}\n', re.S | re.M)
        return "\n".join(pattern.sub("", text) for text in self.sources.values())


@cache
def load(relative: str) -> Module:
    module = Module(TERRAFORM / relative)
    for tf in sorted(module.path.glob("*.tf")):
        text = tf.read_text()
        module.sources[tf.name] = text
        for kind, blocks in literal(hcl2.loads(text)).items():
            module.blocks.setdefault(kind, []).extend(blocks)
    assert module.sources, f"no .tf files in {module.path}"
    return module


def load_tfvars(path: Path) -> dict[str, Any]:
    return literal(hcl2.loads(path.read_text()))


_REF = re.compile(r"\$\{([^{}]+)\}")


def resolve(value: Any, module: Module, overrides: dict[str, Any] | None = None) -> Any:
    """Evaluate `${var.x}` (default or override) and `${local.a.b}` references in a value."""
    if isinstance(value, dict):
        return {k: resolve(v, module, overrides) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, module, overrides) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(ref: str) -> Any:
        head, *path = ref.strip().split(".")
        if head == "var":
            name = path.pop(0)
            if overrides and name in overrides:
                node = overrides[name]
            else:
                assert "default" in module.variables[name], f"var.{name} has no default"
                node = module.variables[name]["default"]
        elif head == "local":
            node = module.locals[path.pop(0)]
        else:
            raise AssertionError(f"cannot evaluate {ref!r} offline")
        for part in path:
            node = node[part]
        return resolve(node, module, overrides)

    whole = _REF.fullmatch(value)
    if whole:
        return lookup(whole.group(1))
    return _REF.sub(lambda m: str(lookup(m.group(1))), value)
