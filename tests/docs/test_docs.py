"""The docs stay true to the repository: every relative link and anchor resolves, every
repository path, module, `make` target and CLI command a doc names exists.

What is checked, in every Markdown file of the repository (README.md, docs/, each component's
README):

- links ``[text](target)``: a relative target exists (relative to the doc), ``#anchor`` matches
  a heading of the target (GitHub's slugs);
- in code (inline spans and fenced blocks): paths that start at a top-level directory
  (``images/…``, ``charts/…``, ``tests/…``, …) exist, from the repository root or the doc's
  folder; ``spam_<package>/…`` files exist in that package's source; dotted names
  ``spam_<package>.module[.attribute]`` import, and so do the modules of ``python -m …``;
- ``make <target>``: the Makefile has the target;
- commands of the project's console scripts (``spam-platform train``, ``spam-gateway hash-key``,
  ``uv run spam-platform features fit …``): the script is declared by a package and each
  subcommand word exists. A paragraph, list item or table row that marks the command as not
  built yet (⏳, "does not exist yet", "not built") may name a command that does not exist.

Placeholders (``<image>``, ``*``, ``{name}``, ``$VAR``, ``…``) are not paths and are skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {
    ".venv",
    ".git",
    "node_modules",
    ".tools",
    ".spam-platform",
    ".terraform",
    ".pytest_cache",
    ".ruff_cache",
}
TOP_LEVEL = (
    "images",
    "charts",
    "tests",
    "ci",
    "pipelines",
    "terraform",
    "values",
    "docs",
    ".github",
)
PLACEHOLDER = re.compile(r"[<>*{}$…]|\bNN\b|\.\.\.")
NOT_BUILT = ("⏳", "does not exist yet", "not built")


def markdown_files() -> list[Path]:
    return sorted(
        p for p in REPO.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(REPO).parts[:-1])
    )


DOCS = markdown_files()
DOC_IDS = [str(p.relative_to(REPO)) for p in DOCS]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
LINK = re.compile(r"(?<!!)\[(?:[^\]]|\][^(])*?\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def code_spans(text: str) -> list[tuple[str, str]]:
    """(code, its context) for every fenced-block line (context: the line) and inline span
    (context: its paragraph or list item)."""
    out = []
    for block in FENCE.finditer(text):
        out += [(line, line) for line in block.group(1).splitlines()]
    prose = FENCE.sub("", text)
    # paragraphs, list items and table rows, each on one line
    parts = re.split(r"\n\s*\n|\n(?=\s*(?:[-*]|\d+\.) )|\n(?=\|)|(?<=\|)\n", prose)
    for part in parts:
        part = " ".join(part.split())
        out += [(m.group(1), part) for m in INLINE.finditer(part)]
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: formatting and punctuation dropped, blanks → '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    text = FENCE.sub("", path.read_text())
    return frozenset(slug(h) for h in HEADING.findall(text))


# ---------------------------------------------------------------- links


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_relative_links_and_anchors_resolve(doc):
    text = FENCE.sub("", doc.read_text())
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, broken


# ---------------------------------------------------------------- paths and modules

PATH_TOKEN = re.compile(r"(?<![\w./-])((?:\.github|[a-z]+)/[\w./@-]*)")
PACKAGE_PATH = re.compile(r"(?<![\w./-])(spam_[a-z]+)/([\w./-]+\.(?:py|json|yaml|tpl|md))\b")
RUN_MODULE = re.compile(r"\bpython -m ([a-z_][\w.]*)")
DOTTED = re.compile(r"(?<![\w./-])(spam_[a-z]+(?:\.[a-z_][a-z0-9_]*)+)\b")
# artefact and output paths the docs describe (created by runs, not in the repository)
GENERATED_ROOTS = ("data", "model", "bundle", "evaluation", "tune", "compiled")


def package_source(package: str) -> Path | None:
    root = REPO / "images" / package.removeprefix("spam_") / "src" / package
    return root if root.is_dir() else None


def resolvable(name: str) -> bool:
    """``spam_x.a.b``: a module, or an attribute of the longest importable module prefix."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            continue
        obj = importlib.import_module(module)
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_repository_paths_named_in_code_exist(doc):
    missing = []
    for code, _line in code_spans(doc.read_text()):
        for token in code.split():
            token = token.strip("`'\",;:()[]")
            if PLACEHOLDER.search(token) or "://" in token:
                continue
            for path in PATH_TOKEN.findall(token):
                if path.split("/")[0] not in TOP_LEVEL:
                    continue
                path = path.rstrip(".")
                if not ((REPO / path).exists() or (doc.parent / path).exists()):
                    missing.append(path)
        for package, rest in PACKAGE_PATH.findall(code):
            if PLACEHOLDER.search(rest):
                continue
            source = package_source(package)
            if source is not None and not (source / rest).exists():
                missing.append(f"{package}/{rest}")
    assert not missing, missing


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_modules_named_in_code_import(doc):
    missing = []
    for code, _line in code_spans(doc.read_text()):
        for name in DOTTED.findall(code):
            if package_source(name.split(".")[0]) is None:
                continue  # not a workspace package (e.g. a metric or a file name)
            if not resolvable(name):
                missing.append(name)
        for module in RUN_MODULE.findall(code):  # python -m pipelines.spam_training.compile
            if importlib.util.find_spec(module) is None:
                missing.append(f"python -m {module}")
    assert not missing, missing


# ---------------------------------------------------------------- make targets

MAKE = re.compile(r"(?<![\w-])make ((?:[a-z][a-z0-9-]*)(?: [a-z][a-z0-9-]*)*)")


@cache
def make_targets() -> frozenset[str]:
    text = (REPO / "Makefile").read_text()
    return frozenset(re.findall(r"^([a-zA-Z][\w-]*):", text, re.M))


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_make_targets_exist(doc):
    missing = set()
    for code, _line in code_spans(doc.read_text()):
        for words in MAKE.findall(code):
            target = words.split()[0]
            if target not in make_targets():
                missing.add(target)
    assert not missing, sorted(missing)


# ---------------------------------------------------------------- CLI commands


@cache
def console_scripts() -> dict[str, str]:
    """Script name → entry point of every workspace package."""
    out = {}
    for pyproject in sorted((REPO / "images").glob("*/pyproject.toml")):
        out.update(tomllib.loads(pyproject.read_text())["project"].get("scripts", {}))
    return out


PLUGIN_GROUPS = {"spam_platform.commands": False, "spam_platform.cli": True}
"""``spam-platform``'s entry-point groups → whether a plugin is a group named after its entry
point (``spam_trainer.cli._load_plugins``)."""


@cache
def click_tree(script: str):
    """The click command behind a typer-based script; ``spam-platform`` with its plugins, added
    to this click tree only (the shared typer app other tests invoke stays as it is)."""
    from importlib.metadata import entry_points

    import typer

    module = importlib.import_module(console_scripts()[script].split(":")[0])
    app = getattr(module, "app", None)
    if not isinstance(app, typer.Typer):
        return None
    command = typer.main.get_command(app)
    if script == "spam-platform":
        for group, named in PLUGIN_GROUPS.items():
            for ep in entry_points(group=group):
                plugin = typer.main.get_command(ep.load())
                if named:
                    command.add_command(plugin, ep.name)
                else:
                    for name, sub in plugin.commands.items():
                        command.add_command(sub, name)
    return command


def command_exists(script: str, words: list[str]) -> bool:
    """Whether ``script`` accepts the subcommand words that start ``words``."""
    command = click_tree(script)
    if command is None:  # argparse scripts: ask the script itself
        if not words:
            return True
        run = subprocess.run(
            [str(Path(sys.executable).parent / script), words[0], "--help"],
            capture_output=True,
            timeout=60,
        )
        return run.returncode == 0 or b"invalid choice" not in run.stderr
    for word in words:
        if not hasattr(command, "commands"):  # typer's (vendored) click: duck-typed group
            return True  # a leaf command: the rest are its arguments
        sub = command.commands.get(word)
        if sub is None:
            return False
        command = sub
    return True


def commands_in(code: str) -> list[tuple[str, list[str]]]:
    """(script, following words) for each console-script command the code runs."""
    scripts = "|".join(re.escape(s) for s in sorted(console_scripts(), key=len, reverse=True))
    pattern = re.compile(
        rf"(?:^|(?<=uv run )|(?<=[|;&(] )|(?<=\$ ))({scripts})(?![\w/-])((?: [a-z][a-z0-9-]*)*)"
    )
    return [(m.group(1), m.group(2).split()) for m in pattern.finditer(code.strip())]


@pytest.mark.parametrize("doc", DOCS, ids=DOC_IDS)
def test_cli_commands_exist(doc):
    missing = set()
    for code, context in code_spans(doc.read_text()):
        for script, words in commands_in(code):
            if script not in console_scripts():
                missing.add(script)
            elif not command_exists(script, words) and not any(m in context for m in NOT_BUILT):
                missing.add(" ".join([script, *words]))
    assert not missing, sorted(missing)


# ---------------------------------------------------------------- the checks themselves


def test_the_checks_catch_what_they_should(tmp_path):
    """A broken link, path, target and command are each found (the checks can fail)."""
    assert slug("Sender reputation (Feast)") == "sender-reputation-feast"
    assert slug("The API (`gateway`)") == "the-api-gateway"
    assert "training-and-the-model-registry" in anchors(REPO / "README.md")
    assert not resolvable("spam_core.no_such_module")
    assert resolvable("spam_core.features.spec.NAMED_FEATURES")
    assert "no-such-target" not in make_targets() and "test" in make_targets()
    assert command_exists("spam-platform", ["features", "fit"])
    assert not command_exists("spam-platform", ["no-such-command"])
    assert not command_exists("spam-platform", ["features", "no-such-subcommand"])
    assert command_exists("spam-gateway", ["hash-key"])
    assert not command_exists("spam-gateway", ["no-such-command"])
    assert commands_in("uv run spam-platform train --trials 4") == [("spam-platform", ["train"])]
    assert commands_in("helm upgrade --install spam-platform charts/spam-platform") == []
    spans = code_spans("see `images/nowhere/x.py`\nand more\n\n```bash\nmake nothing\n```\n")
    assert ("images/nowhere/x.py", "see `images/nowhere/x.py` and more") in spans
    rows = code_spans("| a | `spam-platform x` ⏳ |\n| b | `spam-platform y` |\n")
    assert rows == [
        ("spam-platform x", "| a | `spam-platform x` ⏳ |"),
        ("spam-platform y", "| b | `spam-platform y` |"),
    ]
    assert ("make nothing", "make nothing") in spans


# ---------------------------------------------------------------- the README's promises

# what the README intro names → where it is in the repository
SUBCHARTS = "charts/spam-platform/charts"
INTRO_CLAIMS = {
    "ingest": "images/core/src/spam_core/ingest",
    "529 features": "images/core/src/spam_core/features/spec.py",
    "Feast": "images/core/src/spam_core/reputation/repo.py",
    "XGBoost": "images/trainer/src/spam_trainer/train.py",
    "Ray Tune": "images/trainer/src/spam_trainer/tune.py",
    "MLflow": "images/trainer/src/spam_trainer/registry.py",
    "ONNX": "images/trainer/src/spam_trainer/onnx_export.py",
    "Triton": "images/trainer/src/spam_trainer/triton.py",
    "KServe InferenceServices": f"{SUBCHARTS}/inference/templates/inferenceservice.yaml",
    "feature transformer": "images/transformer/src/spam_transformer/model.py",
    "FastAPI gateway": "images/gateway/src/spam_gateway/app/main.py",
    "inference logs": "images/core/src/spam_core/inference_log.py",
    "drift detection": "images/drift/src/spam_drift/job.py",
    "CronJob": f"{SUBCHARTS}/drift/templates/cronjob.yaml",
    "alerts": f"{SUBCHARTS}/drift/templates/prometheusrule.yaml",
    "dashboard": f"{SUBCHARTS}/drift/dashboards/spam-platform.json",
    "Kubeflow training pipeline": "pipelines/compiled",
    "Ray batch scoring": "images/batch/src/spam_batch/job.py",
    "Helm chart": "charts/spam-platform/Chart.yaml",
    "Terraform for Azure": "terraform/base-infra/main.tf",
}
# what the intro may name only once it exists: word → (kind, name) that must exist
NOT_YET = {
    "feedback": ("route", "/feedback"),
    "retrain": ("command", "retrain"),
    "rollback": ("command", "rollback"),
    "champion": ("option", "promote --dry-run"),
}


def readme_intro() -> str:
    """The README's first paragraphs, up to the status table."""
    text = (REPO / "README.md").read_text()
    return text.split("**Status.**")[0]


def exists(kind: str, name: str) -> bool:
    if kind == "route":
        from spam_gateway.app.api.main import ROUTERS

        return any(r.path.startswith(name) for router in ROUTERS for r in router.routes)
    if kind == "option":
        command, option = name.split()
        params = click_tree("spam-platform").commands[command].params
        return any(option in getattr(p, "opts", ()) for p in params)
    return command_exists("spam-platform", name.split()[:1])


def test_the_readme_intro_names_what_exists():
    intro = readme_intro()
    named = [claim for claim in INTRO_CLAIMS if claim in intro]
    assert len(named) >= 15, "the intro's claims changed: update INTRO_CLAIMS"
    for claim in named:
        assert (REPO / INTRO_CLAIMS[claim]).exists(), claim


def test_the_readme_intro_promises_nothing_unbuilt():
    """A word for an unbuilt part may appear only in the intro's "Not built yet" sentence."""
    claims = re.sub(r"Not built yet:[^.]*\.", "", " ".join(readme_intro().split()))
    for word, (kind, name) in NOT_YET.items():
        if re.search(rf"\b{word}", claims, re.I):
            assert exists(kind, name), f"the README intro names {word!r}: {name} does not exist"
    assert not exists("command", "no-such-command")
    assert exists("option", "train --trials") and not exists("option", "train --no-such-option")


# ---------------------------------------------------------------- measured numbers

STACK_NOTES = REPO.parent / "shared" / "STACK-NOTES.md"
MEASURED_SOURCES = [REPO / "README.md", REPO / "pipelines" / "README.md", STACK_NOTES]
UNITS = r"ms|µs|s|MB|GB|KB|%|×"
NUMBER = re.compile(
    rf"(?<![\w.])\d[\d,]*(?:\.\d+)?k?(?:{UNITS})(?![\w/])"
    r"|\d[\d,]*(?:\.\d+)?k? (?:e-mails/s(?:/core)?|req/s)"
)


def _normalized(text: str) -> str:
    """Blanks collapsed, none between a number and its unit (`10 %` == `10%`)."""
    text = " ".join(text.split())
    return re.sub(rf"(?<=\d) (?=(?:{UNITS})(?![\w/]))", "", text)


def test_design_numbers_are_measurements_recorded_elsewhere():
    """Every figure with a unit in docs/DESIGN.md is one the README, the pipelines README, the
    stack notes or a benchmark's source records: the design page quotes, it does not invent."""
    if not STACK_NOTES.is_file():
        pytest.skip(f"the workspace's stack notes are not at {STACK_NOTES}")
    sources = MEASURED_SOURCES + sorted((REPO / "tests" / "benchmarks").glob("*.py"))
    recorded = _normalized(" ".join(p.read_text() for p in sources))
    quoted = set(NUMBER.findall(_normalized((REPO / "docs" / "DESIGN.md").read_text())))
    assert len(quoted) > 50
    assert sorted(n for n in quoted if n not in recorded) == []
