"""The compiled ``spam-training`` spec: current, deterministic, wired and configured right."""

from __future__ import annotations

import re

import pytest
import yaml

from pipelines.spam_training import DEFAULT_TRAINER_IMAGE, PIPELINE_NAME, VERSION
from pipelines.spam_training.compile import COMPILED_DIR, compiled_text, default_path, main
from spam_core.ingest import PUBLIC_CORPUS_URL

RECOMPILE = "uv run python -m pipelines.spam_training.compile"

# task -> the tasks whose outputs it consumes (the wiring, not just the order)
UPSTREAM = {
    "ingest": set(),
    "feedback": {"ingest"},
    "reputation": {"feedback"},
    "features": {"feedback", "reputation"},
    "tune": {"feedback", "reputation", "features"},
    "train-evaluate": {"feedback", "reputation", "features", "tune"},
    "export": {"feedback", "reputation", "features", "train-evaluate"},
    "baseline": {"feedback", "reputation", "features", "train-evaluate"},
    "register": {"feedback", "tune", "train-evaluate", "export", "baseline"},
}
# the steps that build feature matrices, all from the one point-in-time retrieval
READS_REPUTATION = ("features", "tune", "train-evaluate", "export", "baseline")
# the stage function each component body calls (the CLI's `train` calls the same ones)
STAGE_CALLS = {
    "ingest": "ingest_corpus(",
    "feedback": "assemble_dataset(",
    "reputation": "reputation_stage(",
    "features": "features_stage(",
    "tune": "tune_stage(",
    "train-evaluate": "train_stage(",
    "export": "export_stage(",
    "baseline": "baseline_stage(",
    "register": "register_stage(",
}


@pytest.fixture(scope="module")
def committed() -> str:
    path = default_path()
    assert path.is_file(), f"{path} is missing: run `{RECOMPILE}`"
    return path.read_text()


@pytest.fixture(scope="module")
def documents(committed) -> list[dict]:
    """The pipeline spec, then the Kubernetes platform spec (kfp-kubernetes)."""
    return list(yaml.safe_load_all(committed))


@pytest.fixture(scope="module")
def spec(documents) -> dict:
    return documents[0]


@pytest.fixture(scope="module")
def platform(documents) -> dict:
    assert len(documents) == 2
    return documents[1]["platforms"]["kubernetes"]


@pytest.fixture(scope="module")
def tasks(spec) -> dict:
    return spec["root"]["dag"]["tasks"]


@pytest.fixture(scope="module")
def executors(spec) -> dict:
    return spec["deploymentSpec"]["executors"]


def _executor(spec: dict, task: str) -> dict:
    comp = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
    label = spec["components"][comp]["executorLabel"]
    return spec["deploymentSpec"]["executors"][label]["container"]


def test_committed_yaml_equals_a_fresh_compile(committed, monkeypatch):
    monkeypatch.delenv("SPAM_TRAINER_IMAGE", raising=False)
    assert compiled_text() == committed, (
        f"{default_path().relative_to(COMPILED_DIR.parents[1])} is out of date with "
        f"pipelines/spam_training/: run `{RECOMPILE}` (and bump VERSION in pipeline.py "
        "for a change of interface or behaviour: a new file, the old one kept)"
    )


def test_compilation_is_deterministic(monkeypatch):
    monkeypatch.delenv("SPAM_TRAINER_IMAGE", raising=False)
    first, second = compiled_text(), compiled_text()
    assert first == second
    assert not re.search(r"20\d\d-\d\d-\d\d[T ]\d\d:\d\d", first), "a timestamp in the spec"


def test_compiled_files_are_versioned_by_name():
    names = sorted(p.name for p in COMPILED_DIR.iterdir())
    assert f"{PIPELINE_NAME}-v{VERSION}.yaml" in names
    for name in names:
        m = re.fullmatch(rf"{PIPELINE_NAME}-v(\d+)\.yaml", name)
        assert m, f"unexpected file in {COMPILED_DIR}: {name}"
        assert int(m.group(1)) <= VERSION, f"{name} is newer than VERSION = {VERSION}"


def test_nine_tasks_wired_in_order(spec, tasks):
    assert spec["pipelineInfo"]["name"] == PIPELINE_NAME
    assert set(tasks) == set(UPSTREAM)
    for name, task in tasks.items():
        producers = {
            a["taskOutputArtifact"]["producerTask"]
            for a in task.get("inputs", {}).get("artifacts", {}).values()
        }
        assert producers == UPSTREAM[name], name
        assert set(task.get("dependentTasks", [])) == UPSTREAM[name], name
    # a topological order exists and is the documented one
    done: list[str] = []
    pending = dict(UPSTREAM)
    while pending:
        ready = sorted(t for t, up in pending.items() if up <= set(done))
        assert ready, f"dependency cycle among {sorted(pending)}"
        done += ready
        for t in ready:
            del pending[t]
    assert done == [
        "ingest",
        "feedback",
        "reputation",
        "features",
        "tune",
        "train-evaluate",
        "baseline",
        "export",
        "register",
    ]


def test_every_step_runs_the_trainer_image_and_installs_nothing(spec, tasks, executors):
    assert len(executors) == len(tasks) == 9
    for name in tasks:
        container = _executor(spec, name)
        assert container["image"] == DEFAULT_TRAINER_IMAGE, name
        command = " ".join(container["command"] + container.get("args", []))
        assert "pip install" not in command and "ensurepip" not in command, name
        assert "kfp.dsl.executor_main" in command, name  # a lightweight Python component
        assert STAGE_CALLS[name] in command, f"{name} does not call {STAGE_CALLS[name]}"


def test_reputation_step_and_its_stats_artifact(spec, tasks):
    """feast_repo reaches the reputation step; its stats artifact feeds every step that builds
    feature matrices (as ``load_reputation``)."""
    rep = tasks["reputation"]
    assert rep["inputs"]["parameters"]["feast_repo"] == {"componentInputParameter": "feast_repo"}
    assert rep["inputs"]["artifacts"]["dataset"]["taskOutputArtifact"]["producerTask"] == "feedback"
    outputs = spec["components"][rep["componentRef"]["name"]]["outputDefinitions"]["artifacts"]
    assert set(outputs) == {"stats"}
    for name in READS_REPUTATION:
        source = tasks[name]["inputs"]["artifacts"]["reputation"]["taskOutputArtifact"]
        assert source == {"outputArtifactKey": "stats", "producerTask": "reputation"}, name
        command = " ".join(_executor(spec, name)["command"])
        assert "load_reputation(Path(reputation.path))" in command, name
    assert "reputation" not in tasks["register"]["inputs"]["artifacts"]
    body = " ".join(_executor(spec, "reputation")["command"])
    # empty feast_repo: a private repository, point-in-time only, no online store updated
    assert "online=bool(feast_repo)" in body and "no online store is updated" in body
    assert rep["inputs"]["parameters"]["feast_history"] == {
        "componentInputParameter": "feast_history"
    }
    assert "history_dir=feast_history or None" in body
    assert "prepare_repo(Path(feast_repo)" in body


def test_reputation_pod_gets_the_charts_feast_configuration(spec, tasks, platform):
    """The chart's feature_store.yaml ConfigMap at the path the chart's pods use, the Redis
    password as the variable they get (both optional: a run without the chart still starts);
    only the reputation step sees them."""
    from pipelines.spam_training.pipeline import CHART_FEAST_MOUNT
    from spam_core.reputation.repo import FEATURE_STORE_YAML

    executors = platform["deploymentSpec"]["executors"]
    label = spec["components"][tasks["reputation"]["componentRef"]["name"]]["executorLabel"]
    assert list(executors) == [label]
    config = executors[label]
    assert config["configMapAsVolume"] == [
        {
            "configMapNameParameter": {"componentInputParameter": "feast_config_map"},
            "mountPath": CHART_FEAST_MOUNT,
            "optional": True,
        }
    ]
    assert config["secretAsEnv"] == [
        {
            "keyToEnv": [{"envVar": "SPAM_REDIS_PASSWORD", "secretKey": "redis-password"}],
            "optional": True,
            "secretNameParameter": {"componentInputParameter": "feast_redis_secret"},
        }
    ]
    # the same mount path and variable the chart renders for its own pods
    from tests.charts import chartlib

    docs = chartlib.render_docs(chartlib.minimal_values())
    transformer = chartlib.only(docs, "Deployment", "spam-platform-transformer")
    pod = transformer.body["spec"]["template"]["spec"]
    main = chartlib.container(pod, "transformer")
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    assert mounts["feast-repo"] == CHART_FEAST_MOUNT
    password = {e["name"]: e for e in main["env"]}["SPAM_REDIS_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"]["key"] == "redis-password"
    volumes = {v["name"]: v for v in pod["volumes"]}
    name = volumes["feast-repo"]["configMap"]["name"]
    assert (
        name == spec["root"]["inputDefinitions"]["parameters"]["feast_config_map"]["defaultValue"]
    )
    assert FEATURE_STORE_YAML in chartlib.only(docs, "ConfigMap", name).body["data"]


def test_the_feedback_step_assembles_the_training_data(spec, tasks):
    """The feedback log and the recent window reach the feedback step; its dataset (the corpus
    plus the feedback rows) is what every later step reads."""
    step = tasks["feedback"]
    params = step["inputs"]["parameters"]
    assert params["feedback_log"] == {"componentInputParameter": "feedback_log"}
    assert params["feedback_recent_days"] == {"componentInputParameter": "feedback_recent_days"}
    source = step["inputs"]["artifacts"]["corpus_dataset"]["taskOutputArtifact"]
    assert source == {"outputArtifactKey": "dataset", "producerTask": "ingest"}
    for name in ("reputation", "features", "tune", "train-evaluate", "export", "baseline"):
        source = tasks[name]["inputs"]["artifacts"]["dataset"]["taskOutputArtifact"]
        assert source == {"outputArtifactKey": "dataset", "producerTask": "feedback"}, name
    body = " ".join(_executor(spec, "feedback")["command"])
    assert "require=True" in body and "recent_days=feedback_recent_days" in body


def test_ray_address_reaches_the_tune_step(spec, tasks):
    """The tune step takes the Ray cluster address as a parameter (empty: embedded Ray)."""
    tune = tasks["tune"]
    assert tune["inputs"]["parameters"]["ray_address"] == {"componentInputParameter": "ray_address"}
    body = " ".join(_executor(spec, "tune")["command"])
    assert "ray_address=ray_address or None" in body


def test_pipeline_parameters_and_defaults(spec):
    params = spec["root"]["inputDefinitions"]["parameters"]
    defaults = {k: v.get("defaultValue") for k, v in params.items()}
    assert defaults == {
        "corpus": PUBLIC_CORPUS_URL,
        "feedback_log": "",
        "feedback_recent_days": 7.0,
        "feast_repo": "",
        "feast_config_map": "spam-platform-transformer-feast",
        "feast_redis_secret": "spam-platform-redis",
        "feast_history": "",
        "trials": 20,
        "cpus": "4",
        "seed": 42,
        "max_rounds": 1000,
        "ray_address": "",
        "model_name": "spam-detector",
        "mlflow_tracking_uri": "http://mlflow.mlflow.svc.cluster.local:5000",
        "mlflow_experiment": "spam-detector",
        "register": True,
        "gate_f1_min": 0.95,
        "gate_roc_auc_min": 0.99,
        "gate_cold_fpr_max": 0.005,
        "publish_url": "",
    }
    assert params["register"]["parameterType"] == "BOOLEAN"
    assert params["feast_repo"]["parameterType"] == "STRING"
    assert params["ray_address"]["parameterType"] == "STRING"
    # resource placeholders resolve from string parameters only (KFP driver)
    assert params["cpus"]["parameterType"] == "STRING"
    outputs = spec["root"]["outputDefinitions"]
    assert set(outputs["parameters"]) == {"run_id", "model_version", "staging", "gate_failures"}
    assert set(outputs["artifacts"]) == {"metrics", "bundle"}


def test_resources_caching_and_retries(spec, tasks):
    cpus = "{{$.inputs.parameters['pipelinechannel--cpus']}}"
    for name in ("tune", "train-evaluate"):
        res = _executor(spec, name)["resources"]
        assert res["resourceCpuRequest"] == res["resourceCpuLimit"] == cpus, name
        assert res["resourceMemoryLimit"].endswith("Gi"), name
    for name in tasks:
        res = _executor(spec, name)["resources"]
        assert {"resourceCpuLimit", "resourceMemoryRequest", "resourceMemoryLimit"} <= set(res)
    # enableCache false is omitted: a new MLflow run each time; the feedback log grows under
    # the same URL
    uncached = {"register", "feedback"}
    for name in uncached:
        assert tasks[name]["cachingOptions"] == {}, name
    assert all(tasks[t]["cachingOptions"]["enableCache"] for t in tasks if t not in uncached)
    assert tasks["ingest"]["retryPolicy"]["maxRetryCount"] == 2


def test_trainer_image_override(tmp_path, monkeypatch):
    monkeypatch.setenv("SPAM_TRAINER_IMAGE", "registry.example/trainer:env")
    assert "image: registry.example/trainer:env" in compiled_text()
    out = tmp_path / "p.yaml"
    assert main(["--image", "registry.example/trainer:flag", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.count("image: registry.example/trainer:flag") == 9
    assert DEFAULT_TRAINER_IMAGE not in text


def test_check_flag(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SPAM_TRAINER_IMAGE", raising=False)
    assert main(["--check"]) == 0
    stale = tmp_path / "stale.yaml"
    stale.write_text(default_path().read_text().replace("trials: int", "trials: str", 1))
    assert main(["--check", "--out", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().out
    assert main(["--check", "--out", str(tmp_path / "missing.yaml")]) == 1


def test_the_trainer_image_tag_is_the_trainer_package_version():
    """One source: images/trainer/pyproject.toml's version tags the image every step runs."""
    import tomllib

    from pipelines.spam_training import TRAINER_VERSION

    pyproject = COMPILED_DIR.parents[1] / "images" / "trainer" / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["project"]["version"]
    assert declared == TRAINER_VERSION, "re-sync the workspace: uv sync --all-packages"
    assert f"spam-platform/trainer:{declared}" == DEFAULT_TRAINER_IMAGE


def test_the_docs_name_the_image_the_compiled_pipeline_runs():
    repo = COMPILED_DIR.parents[1]
    compiled = next(yaml.safe_load_all(default_path().read_text()))  # then the platform spec
    images = {e["container"]["image"] for e in compiled["deploymentSpec"]["executors"].values()}
    assert images == {DEFAULT_TRAINER_IMAGE}
    docs = [repo / "README.md", repo / "pipelines" / "README.md", repo / "ci" / "README.md"]
    docs += sorted((repo / "docs").glob("*.md"))
    pipeline_readme = (repo / "pipelines" / "README.md").read_text()
    assert f"-t {DEFAULT_TRAINER_IMAGE} ." in pipeline_readme  # the build command
    for doc in docs:
        for tag in re.findall(
            r"spam-platform/trainer:([A-Za-z0-9_.-]*[A-Za-z0-9_])", doc.read_text()
        ):
            assert f"spam-platform/trainer:{tag}" == DEFAULT_TRAINER_IMAGE, (doc.name, tag)
