"""Repository invariants: layout, pinned image requirements, the README's promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKER_IMAGES = [p.parent.name for p in sorted((REPO / "images").glob("*/Dockerfile"))]


def test_top_level_layout():
    for name in (
        "charts",
        "images",
        "pipelines",
        "terraform",
        "ci",
        "tests",
        "values",
        "docs",
        "LICENSE",
        "README.md",
        "Makefile",
        "pyproject.toml",
        "uv.lock",
        ".ci/run",
    ):
        assert (REPO / name).exists(), name


@pytest.fixture(scope="module")
def exported_requirements(tmp_path_factory) -> Path:
    """What `make requirements` writes (each image's export from the lock, with the extras
    only its image installs), written to a temporary directory instead of images/."""
    if shutil.which("uv") is None or shutil.which("make") is None:
        pytest.skip("uv or make not on PATH")
    out = tmp_path_factory.mktemp("requirements")
    subprocess.run(
        ["make", "-s", "--no-print-directory", "requirements", f"REQUIREMENTS_DIR={out}"],
        cwd=REPO,
        check=True,
    )
    return out


@pytest.mark.parametrize("image", DOCKER_IMAGES)
def test_image_requirements_are_exported_from_the_lock(image, exported_requirements):
    committed = (REPO / "images" / image / "requirements.txt").read_text()
    exported = (exported_requirements / image / "requirements.txt").read_text()
    assert committed == exported, f"run `make requirements` (images/{image})"


@pytest.mark.parametrize("image", DOCKER_IMAGES)
def test_dockerfile_installs_only_its_own_packages(image):
    text = (REPO / "images" / image / "Dockerfile").read_text()
    assert f"images/{image}/requirements.txt" in text
    assert "--require-hashes" in text
    assert "USER 10001" in text
    others = {p.name for p in (REPO / "images").iterdir() if p.is_dir()} - {image, "core"}
    for other in others:
        assert f"images/{other}" not in text


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make up" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_xgboost_cpu_not_cuda_xgboost():
    lock = (REPO / "uv.lock").read_text()
    assert 'name = "xgboost"\n' not in lock
    assert "nvidia-nccl" not in lock


# Which workspace packages each package may import: core at the bottom; the images above it;
# the local platform (development only, no image) on top of the trainer and the drift job it
# schedules. Pipelines import none.
LAYERS = {
    "core": set(),
    "trainer": {"spam_core"},
    "transformer": {"spam_core"},
    "gateway": {"spam_core"},
    "batch": {"spam_core"},
    "local": {"spam_core", "spam_trainer", "spam_drift"},
    "drift": {"spam_core"},
}


def _workspace_imports(package_dir: Path) -> dict[str, set[str]]:
    """Per file: the workspace packages (``spam_*``) it imports."""
    import ast

    found: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = {n for n in names if n.startswith("spam_")}
    return found


def test_every_workspace_package_has_a_layer():
    assert {p.name for p in (REPO / "images").iterdir() if (p / "pyproject.toml").is_file()} == set(
        LAYERS
    )


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_layers_flow_one_way(package):
    own = f"spam_{package}"
    allowed = LAYERS[package] | {own}
    wrong = {
        path: sorted(names - allowed)
        for path, names in _workspace_imports(REPO / "images" / package / "src").items()
        if names - allowed
    }
    assert not wrong, f"{own} may import only {sorted(allowed)}"


# ---------------------------------------------------------------- license

SKIP_DIRS = {".venv", ".git", "node_modules", ".tools", ".spam-platform", ".terraform"}


def _tracked(pattern: str) -> list[Path]:
    """Files named ``pattern`` anywhere in the repository, outside environments and caches."""
    return sorted(
        p for p in REPO.rglob(pattern) if not SKIP_DIRS & set(p.relative_to(REPO).parts[:-1])
    )


def test_the_license_is_mit():
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text


def test_every_python_package_declares_the_license():
    """PEP 639: an SPDX expression in [project].license (hatchling writes License-Expression)."""
    import tomllib
    from importlib import metadata

    pyprojects = _tracked("pyproject.toml")
    assert len(pyprojects) == 1 + len(LAYERS)  # the workspace root and every package
    for path in pyprojects:
        project = tomllib.loads(path.read_text())["project"]
        assert project.get("license") == "MIT", path.relative_to(REPO)
        if path.parent.parent.name == "images":
            built = metadata.metadata(project["name"])
            assert built["License-Expression"] == "MIT", project["name"]


def test_every_chart_declares_the_license():
    import yaml

    charts = _tracked("Chart.yaml")
    assert len(charts) >= 7  # the umbrella, its six subcharts, terraform's platform-secrets
    for path in charts:
        chart = yaml.safe_load(path.read_text())
        annotations = chart.get("annotations") or {}
        assert annotations.get("artifacthub.io/license") == "MIT", path.relative_to(REPO)


def test_every_image_with_feast_can_read_the_charts_blob_registry():
    """The chart's feature_store.yaml names Feast's AzureRegistryStore: every image that
    installs Feast also installs what that store imports (the transformer's did not)."""
    import importlib

    from feast.infra.registry.registry import REGISTRY_STORE_CLASS_FOR_TYPE

    module, _, name = REGISTRY_STORE_CLASS_FOR_TYPE["AzureRegistryStore"].rpartition(".")
    assert getattr(importlib.import_module(module), name)
    # what its constructor imports
    from azure.identity import DefaultAzureCredential  # noqa: F401
    from azure.storage.blob import BlobServiceClient  # noqa: F401

    feast_tpl = (REPO / "charts/spam-platform/charts/spam-common/templates/_feast.tpl").read_text()
    assert "registry_store_type: AzureRegistryStore" in feast_tpl
    with_feast = [
        path
        for path in sorted((REPO / "images").glob("*/requirements.txt"))
        if "\nfeast==" in "\n" + path.read_text()
    ]
    assert {p.parent.name for p in with_feast} >= {"transformer", "gateway", "batch", "trainer"}
    for path in with_feast:
        text = "\n" + path.read_text()
        missing = [p for p in ("azure-identity", "azure-storage-blob") if f"\n{p}==" not in text]
        assert not missing, f"{path.relative_to(REPO)} lacks {missing}"


def test_no_test_module_imports_a_conftest():
    """Shared fixtures live in plugins under tests/utils (registered in tests/conftest.py), not
    in one suite's conftest that other suites import (which registers them twice)."""
    import ast

    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n.split(".")[-1] == "conftest" for n in names):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
