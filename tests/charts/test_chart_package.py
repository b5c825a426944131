"""`helm package` round trip, and the committed Chart.lock files match the dependencies."""

from __future__ import annotations

import shutil
import tarfile

import helm_python
import pytest
import yaml

from tests.charts import chartlib

CHARTS_WITH_DEPENDENCIES = [chartlib.CHART] + [
    chartlib.CHART / "charts" / s for s in chartlib.SUBCHARTS
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("package")
    return helm_python.package(chartlib.CHART, destination=out)


def test_package_contains_each_file_once_and_no_build_leftovers(archive):
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert len(names) == len(set(names)), "a file is packaged twice"
    assert "spam-platform/Chart.lock" in names
    assert "spam-platform/values.schema.json" in names
    assert "spam-platform/README.md" in names
    for sub in chartlib.SUBCHARTS:
        assert f"spam-platform/charts/{sub}/Chart.yaml" in names
        assert f"spam-platform/charts/{sub}/values.schema.json" in names
        # the library travels with each subchart, so each one stays installable
        assert f"spam-platform/charts/{sub}/charts/spam-common/templates/_names.tpl" in names
    assert not [n for n in names if n.endswith(".tgz") or "/hack/" in n]


@pytest.mark.parametrize(
    "values",
    [chartlib.minimal_values(), chartlib.env_values("production"), chartlib.env_values("staging")],
    ids=["minimal", "production", "staging"],
)
def test_packaged_chart_renders_exactly_like_the_directory(archive, values):
    assert chartlib.render(values, chart=archive) == chartlib.render(values)


def test_packaged_chart_keeps_version_and_dependencies(archive):
    with helm_python.Chart.load(archive) as chart:
        assert chart.version == "0.2.0"
        assert chart.metadata["kubeVersion"] == ">=1.27.0-0"
        names = sorted(d["name"] for d in chart.dependencies)
    assert names == [
        "batch",
        "drift",
        "gateway",
        "inference",
        "spam-common",
        "transformer",
        "tuning",
    ]


@pytest.mark.parametrize("chart_dir", CHARTS_WITH_DEPENDENCIES, ids=lambda p: p.name)
def test_chart_lock_is_current(chart_dir, tmp_path):
    """`helm dependency update` on a copy writes the committed Chart.lock again."""
    root = tmp_path / "spam-platform"
    shutil.copytree(chartlib.CHART, root, symlinks=True)
    copy = root / chart_dir.relative_to(chartlib.CHART)
    (copy / "Chart.lock").unlink()
    helm_python.dependency_update(copy)
    fresh = yaml.safe_load((copy / "Chart.lock").read_text())
    committed = yaml.safe_load((chart_dir / "Chart.lock").read_text())
    assert fresh["dependencies"] == committed["dependencies"]
    assert fresh["digest"] == committed["digest"]


@pytest.mark.parametrize("chart_dir", CHARTS_WITH_DEPENDENCIES, ids=lambda p: p.name)
def test_every_dependency_is_present_unpacked(chart_dir):
    statuses = {d["name"]: d["status"] for d in helm_python.dependency_list(chart_dir)}
    assert statuses
    assert set(statuses.values()) == {"unpacked"}, statuses


def test_umbrella_switches_every_component_by_its_enabled_value():
    chart = yaml.safe_load((chartlib.CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == ">=1.27.0-0"
    for dep in chart["dependencies"]:
        assert dep["repository"] == f"file://charts/{dep['name']}"
        if dep["name"] == "spam-common":
            assert "condition" not in dep
        else:
            assert dep["condition"] == f"{dep['name']}.enabled"
    library = yaml.safe_load((chartlib.LIBRARY / "Chart.yaml").read_text())
    assert library["type"] == "library"
