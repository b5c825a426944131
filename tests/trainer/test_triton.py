"""Triton model repository (writer, validator) and the real bundled tritonserver serving it.

The server tests start the tritonserver shipped in nvidia-pytriton (python backend, configs
selected with ``--model-config-name=local``) with two models side by side, and compare its
answers over HTTP and gRPC with onnxruntime in process. No mocks; they are skipped only when
the pytriton binary is absent. The whole module takes ~15 s on 2 cores (three server starts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from google.protobuf import text_format

from spam_core.features.spec import N_FEATURES
from spam_trainer.onnx_export import INPUT_NAME, LABEL, PROBABILITIES, session, to_onnx
from spam_trainer.triton import (
    CONFIG_FILE,
    ONNX_FILE,
    PYTHON_MODEL_FILE,
    ModelRepositoryError,
    local_config_path,
    read_model_config,
    validate_model_repository,
    write_model_repository,
)
from tests.utils.serving import bundled_triton_or_skip

STAGING = "spam-detector-staging"
PRODUCTION = "spam-detector-production"
SERVER_TIMEOUT = pytest.mark.timeout(120)
KIND_CPU = 2  # ModelInstanceGroup.Kind.KIND_CPU


def _train(seed: int, n_features: int = N_FEATURES, depth: int = 3) -> bytes:
    """A small XGBoost model on dense float32 data (missing=NaN), exported to ONNX bytes."""
    rng = np.random.default_rng(seed)
    x = rng.random((400, n_features), dtype=np.float32)
    y = (x[:, seed % 7] + x[:, 11] + 0.3 * rng.standard_normal(400) > 1.0).astype(np.int64)
    model = xgb.XGBClassifier(
        n_estimators=15, max_depth=depth, missing=np.nan, n_jobs=1, random_state=seed
    )
    model.fit(x, y)
    return to_onnx(model, n_features=n_features).SerializeToString()


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((n, N_FEATURES), dtype=np.float32)


@pytest.fixture(scope="module")
def onnx_models() -> dict[str, bytes]:
    return {STAGING: _train(1, depth=2), PRODUCTION: _train(2, depth=4)}


@pytest.fixture(scope="module")
def expected(onnx_models: dict[str, bytes]) -> dict[str, Callable[[np.ndarray], dict]]:
    """In-process onnxruntime reference per model."""
    sessions = {name: session(data) for name, data in onnx_models.items()}

    def reference(name: str) -> Callable[[np.ndarray], dict]:
        def run(x: np.ndarray) -> dict:
            label, proba = sessions[name].run([LABEL, PROBABILITIES], {INPUT_NAME: x})
            return {LABEL: label, PROBABILITIES: proba}

        return run

    return {name: reference(name) for name in sessions}


@pytest.fixture(scope="module")
def repos(onnx_models: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two repository roots, one model each (the staging/production layout)."""
    roots = []
    for name, data in onnx_models.items():
        root = tmp_path_factory.mktemp(name)
        write_model_repository(data, root, model_name=name)
        roots.append(root)
    return roots


# --------------------------------------------------------------------------- repository


def test_layout_and_configs(repos: list[Path]) -> None:
    root = repos[0]
    model_dir = root / STAGING
    assert (model_dir / CONFIG_FILE).is_file()
    assert local_config_path(model_dir) == model_dir / "configs" / "local.pbtxt"
    assert (model_dir / "configs" / "local.pbtxt").is_file()
    assert (model_dir / "1" / ONNX_FILE).is_file()
    source = Path(__file__).parents[2] / "images/trainer/src/spam_trainer/triton_backend/model.py"
    assert (model_dir / "1" / PYTHON_MODEL_FILE).read_bytes() == source.read_bytes()
    assert not [p for p in root.iterdir() if p.name.startswith(".")], "staging dir left behind"

    production = read_model_config(model_dir / CONFIG_FILE)
    local = read_model_config(model_dir / "configs" / "local.pbtxt")
    assert (production.backend, production.platform) == ("onnxruntime", "onnxruntime_onnx")
    assert local.backend == "python"
    for config in (production, local):
        assert config.name == STAGING
        assert config.max_batch_size == 256
        assert list(config.dynamic_batching.preferred_batch_size) == [16, 64]
        assert config.dynamic_batching.max_queue_delay_microseconds == 500
        (features,) = config.input
        assert (features.name, list(features.dims)) == (INPUT_NAME, [N_FEATURES])
        outputs = {o.name: o for o in config.output}
        assert list(outputs[LABEL].dims) == [1]
        assert outputs[LABEL].HasField("reshape")
        assert list(outputs[LABEL].reshape.shape) == []
        assert list(outputs[PROBABILITIES].dims) == [2]
        assert not outputs[PROBABILITIES].HasField("reshape")
        assert [(g.count, g.kind) for g in config.instance_group] == [(1, KIND_CPU)]
    for root, name in zip(repos, (STAGING, PRODUCTION), strict=True):
        assert validate_model_repository(root, name, N_FEATURES) == []


def _edit_config(path: Path, edit: Callable) -> None:
    config = read_model_config(path)
    edit(config)
    path.write_text(text_format.MessageToString(config))


def test_validator_reports_broken_batching(onnx_models: dict[str, bytes], tmp_path: Path) -> None:
    model_dir = write_model_repository(onnx_models[STAGING], tmp_path)
    _edit_config(model_dir / CONFIG_FILE, lambda c: setattr(c, "max_batch_size", 0))
    _edit_config(local_config_path(model_dir), lambda c: c.ClearField("dynamic_batching"))
    problems = validate_model_repository(tmp_path)
    assert any("config.pbtxt" in p and "max_batch_size is 0" in p for p in problems), problems
    assert any("local.pbtxt" in p and "no dynamic_batching" in p for p in problems), problems
    assert len(problems) == 2, problems

    with pytest.raises(ModelRepositoryError, match="max_batch_size must be > 0"):
        write_model_repository(onnx_models[STAGING], tmp_path / "x", max_batch_size=0)
    with pytest.raises(ModelRepositoryError, match="preferred_batch_size"):
        write_model_repository(onnx_models[STAGING], tmp_path / "x", max_batch_size=32)


def test_validator_reports_dims_and_model_problems(
    onnx_models: dict[str, bytes], tmp_path: Path
) -> None:
    model_dir = write_model_repository(onnx_models[STAGING], tmp_path)
    _edit_config(model_dir / CONFIG_FILE, lambda c: c.input[0].ClearField("dims"))
    _edit_config(model_dir / CONFIG_FILE, lambda c: c.input[0].dims.append(N_FEATURES + 4))
    problems = validate_model_repository(tmp_path)
    assert any(f"dims [{N_FEATURES + 4}] != [{N_FEATURES}]" in p for p in problems), problems

    (model_dir / "1" / ONNX_FILE).write_bytes(b"not a model")
    problems = validate_model_repository(tmp_path)
    assert any("not a loadable ONNX model" in p for p in problems), problems
    assert validate_model_repository(tmp_path, "absent") == [
        f"{tmp_path / 'absent'}: model directory missing"
    ]


def test_n_features_mismatch_is_refused(tmp_path: Path) -> None:
    wide = _train(3, n_features=N_FEATURES + 4)
    with pytest.raises(
        ModelRepositoryError, match=rf"takes {N_FEATURES + 4} features.*{N_FEATURES}"
    ):
        write_model_repository(wide, tmp_path)
    assert not list(tmp_path.iterdir())
    # consistent with an explicit n_features (the config follows the model) ...
    model_dir = write_model_repository(wide, tmp_path, n_features=N_FEATURES + 4)
    assert list(read_model_config(model_dir / CONFIG_FILE).input[0].dims) == [N_FEATURES + 4]
    # ... but the validator, against the feature spec, reports it
    problems = validate_model_repository(tmp_path, n_features=N_FEATURES)
    assert any(f"takes {N_FEATURES + 4} features" in p for p in problems), problems
    with pytest.raises(ModelRepositoryError, match="not a loadable ONNX model"):
        write_model_repository(b"\x00garbage", tmp_path)


# --------------------------------------------------------------------------- server


@pytest.fixture(scope="module")
def triton_dist():
    return bundled_triton_or_skip()


@pytest.fixture(scope="module")
def server(triton_dist, repos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """One server, two repository roots (staging and production)."""
    from spam_local.tritonserver import LocalTritonServer

    with LocalTritonServer(
        repos, log_dir=tmp_path_factory.mktemp("triton-log"), startup_timeout=90
    ) as srv:
        yield srv


def _http(server):
    import tritonclient.http as httpclient

    return httpclient, httpclient.InferenceServerClient(server.http_address, concurrency=1)


def _grpc(server):
    import tritonclient.grpc as grpcclient

    return grpcclient, grpcclient.InferenceServerClient(server.grpc_url)


CLIENTS = {"http": _http, "grpc": _grpc}


def _infer(module, client, model: str, x: np.ndarray) -> dict[str, np.ndarray]:
    features = module.InferInput(INPUT_NAME, list(x.shape), "FP32")
    features.set_data_from_numpy(x)
    outputs = [module.InferRequestedOutput(LABEL), module.InferRequestedOutput(PROBABILITIES)]
    result = client.infer(model, [features], outputs=outputs)
    return {LABEL: result.as_numpy(LABEL), PROBABILITIES: result.as_numpy(PROBABILITIES)}


def _check(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    n = len(want[LABEL])
    assert got[LABEL].shape == (n, 1)  # [batch] output served as [batch, 1] (reshape)
    assert got[PROBABILITIES].shape == (n, 2)
    np.testing.assert_array_equal(got[LABEL].ravel(), want[LABEL])
    assert np.max(np.abs(got[PROBABILITIES] - want[PROBABILITIES])) <= 1e-6


@SERVER_TIMEOUT
@pytest.mark.parametrize("protocol", sorted(CLIENTS))
def test_server_ready_and_metadata(server, protocol: str) -> None:
    _, client = CLIENTS[protocol](server)
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        for name in (STAGING, PRODUCTION):
            assert server.model_ready(name)
            assert client.is_model_ready(name)
            meta = client.get_model_metadata(name)
            config = client.get_model_config(name)
            if protocol == "grpc":
                inputs = [(i.name, list(i.shape)) for i in meta.inputs]
                config = config.config
                assert config.max_batch_size == 256
                assert list(config.dynamic_batching.preferred_batch_size) == [16, 64]
            else:
                inputs = [(i["name"], i["shape"]) for i in meta["inputs"]]
                assert config["max_batch_size"] == 256
                assert config["dynamic_batching"]["preferred_batch_size"] == [16, 64]
            assert inputs == [(INPUT_NAME, [-1, N_FEATURES])]
        assert not client.is_model_ready("spam-detector-absent")
    finally:
        client.close()


@SERVER_TIMEOUT
@pytest.mark.parametrize("protocol", sorted(CLIENTS))
def test_server_matches_onnxruntime(server, expected, protocol: str) -> None:
    module, client = CLIENTS[protocol](server)
    try:
        for n in (1, 64):
            x = _rows(n, seed=n)
            answers = {}
            for name in (STAGING, PRODUCTION):
                answers[name] = _infer(module, client, name, x)
                _check(answers[name], expected[name](x))
            # two different models are served, each under its own name
            assert not np.allclose(
                answers[STAGING][PROBABILITIES], answers[PRODUCTION][PROBABILITIES]
            )
    finally:
        client.close()


@SERVER_TIMEOUT
def test_concurrent_requests_are_batched(server, expected) -> None:
    import tritonclient.http as httpclient

    def stats(client) -> tuple[int, int]:
        (model,) = client.get_inference_statistics(PRODUCTION)["model_stats"]
        return model["inference_count"], model["execution_count"]

    control = httpclient.InferenceServerClient(server.http_address)
    inferences_before, executions_before = stats(control)
    n_threads, per_thread = 32, 8

    def worker(i: int) -> int:
        client = httpclient.InferenceServerClient(server.http_address)
        try:
            for j in range(per_thread):
                x = _rows(1 + (i + j) % 3, seed=1000 * i + j)
                _check(_infer(httpclient, client, PRODUCTION, x), expected[PRODUCTION](x))
        finally:
            client.close()
        return per_thread

    with ThreadPoolExecutor(n_threads) as pool:
        assert sum(pool.map(worker, range(n_threads))) == n_threads * per_thread
    inferences, executions = stats(control)
    control.close()
    rows = sum(1 + (i + j) % 3 for i in range(n_threads) for j in range(per_thread))
    assert inferences - inferences_before == rows
    # the dynamic batcher merged requests: fewer model executions than requests
    executions -= executions_before
    print(f"{n_threads * per_thread} requests, {rows} rows -> {executions} model executions")
    assert executions < n_threads * per_thread


@SERVER_TIMEOUT
@pytest.mark.parametrize("protocol", sorted(CLIENTS))
def test_wrong_input_gets_a_clean_error(server, expected, protocol: str) -> None:
    from tritonclient.utils import InferenceServerException

    module, client = CLIENTS[protocol](server)
    try:
        bad = np.zeros((2, N_FEATURES - 1), dtype=np.float32)
        with pytest.raises(InferenceServerException, match="unexpected shape for input 'features'"):
            _infer(module, client, STAGING, bad)
        too_many = _rows(257, seed=7)  # > max_batch_size
        with pytest.raises(InferenceServerException, match="batch-size must be <= 256"):
            _infer(module, client, STAGING, too_many)
        wrong_type = module.InferInput(INPUT_NAME, [1, N_FEATURES], "FP64")
        wrong_type.set_data_from_numpy(np.zeros((1, N_FEATURES), dtype=np.float64))
        with pytest.raises(InferenceServerException, match=r"FP64|data-type|datatype"):
            client.infer(STAGING, [wrong_type])
        # the server keeps serving
        x = _rows(3, seed=3)
        _check(_infer(module, client, STAGING, x), expected[STAGING](x))
    finally:
        client.close()


def _group_pids(pgid: int) -> set[int]:
    """Live processes of a process group (from /proc)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.add(int(entry.name))
    return pids


@SERVER_TIMEOUT
def test_one_root_two_models_and_clean_stop(
    triton_dist, repos: list[Path], expected, tmp_path: Path
) -> None:
    """Both models in one root; stop() leaves no tritonserver or stub process behind."""
    import tritonclient.grpc as grpcclient

    from spam_local.tritonserver import LocalTritonServer

    root = tmp_path / "models"
    root.mkdir()
    for repo in repos:
        for model_dir in repo.iterdir():
            shutil.copytree(model_dir, root / model_dir.name)
    server = LocalTritonServer([root], log_dir=tmp_path / "log", startup_timeout=90)
    assert sorted(server.models) == sorted([STAGING, PRODUCTION])
    server.start()
    try:
        pid = server.pid
        assert pid is not None and server.is_alive()
        client = grpcclient.InferenceServerClient(server.grpc_url)
        x = _rows(5, seed=5)
        for name in (STAGING, PRODUCTION):
            _check(_infer(grpcclient, client, name, x), expected[name](x))
        client.close()
        processes = _group_pids(pid)
        stubs = [
            p
            for p in processes
            if b"triton_python_backend_stub" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        assert len(stubs) == 2, processes  # one python-backend stub per model instance
    finally:
        code = server.stop()
    assert code == 0, server.log_tail()
    assert not server.is_alive()
    assert not _group_pids(pid)
    for p in (pid, *stubs):
        assert not os.path.exists(f"/proc/{p}"), f"process {p} survived stop()"
    assert server.stop() is None  # idempotent


@SERVER_TIMEOUT
def test_failed_start_raises_with_the_log(
    triton_dist, onnx_models: dict[str, bytes], tmp_path: Path
) -> None:
    from spam_local.tritonserver import LocalTritonServer, TritonServerError

    root = tmp_path / "models"
    model_dir = write_model_repository(onnx_models[STAGING], root)
    # the production config needs the onnxruntime backend, which the bundled server lacks
    with pytest.raises(TritonServerError, match="needs backend 'onnxruntime'"):
        LocalTritonServer([root], model_config_name=None).start()
    # a model that fails to load: the server exits and the error carries the log's tail
    (model_dir / "1" / ONNX_FILE).write_bytes(b"not a model")
    server = LocalTritonServer([root], log_dir=tmp_path / "log", startup_timeout=60)
    with pytest.raises(TritonServerError, match="exited") as info:
        server.start()
    assert "spam-detector" in str(info.value)
    assert not server.is_alive()
