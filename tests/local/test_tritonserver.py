"""The real bundled tritonserver (spam_local.tritonserver) serving two models side by side.

It starts the tritonserver shipped in nvidia-pytriton (python backend, configs selected with
``--model-config-name=local``) on repositories the trainer's writer made, and compares its
answers over HTTP and gRPC with onnxruntime in process. No mocks; skipped only when the
pytriton binary is absent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from spam_core.features.spec import N_FEATURES
from spam_trainer.onnx_export import INPUT_NAME, LABEL, PROBABILITIES
from spam_trainer.triton import ONNX_FILE, write_model_repository
from tests.utils.serving import bundled_triton_or_skip
from tests.utils.toy_models import PRODUCTION, STAGING, toy_rows

SERVER_TIMEOUT = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def triton_dist():
    return bundled_triton_or_skip()


@pytest.fixture(scope="module")
def server(
    triton_dist, toy_repos: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator:
    """One server, two repository roots (staging and production)."""
    from spam_local.tritonserver import LocalTritonServer

    with LocalTritonServer(
        toy_repos, log_dir=tmp_path_factory.mktemp("triton-log"), startup_timeout=90
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
def test_server_matches_onnxruntime(server, toy_expected, protocol: str) -> None:
    module, client = CLIENTS[protocol](server)
    try:
        for n in (1, 64):
            x = toy_rows(n, seed=n)
            answers = {}
            for name in (STAGING, PRODUCTION):
                answers[name] = _infer(module, client, name, x)
                _check(answers[name], toy_expected[name](x))
            # two different models are served, each under its own name
            assert not np.allclose(
                answers[STAGING][PROBABILITIES], answers[PRODUCTION][PROBABILITIES]
            )
    finally:
        client.close()


@SERVER_TIMEOUT
def test_concurrent_requests_are_batched(server, toy_expected) -> None:
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
                x = toy_rows(1 + (i + j) % 3, seed=1000 * i + j)
                _check(_infer(httpclient, client, PRODUCTION, x), toy_expected[PRODUCTION](x))
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
def test_wrong_input_gets_a_clean_error(server, toy_expected, protocol: str) -> None:
    from tritonclient.utils import InferenceServerException

    module, client = CLIENTS[protocol](server)
    try:
        bad = np.zeros((2, N_FEATURES - 1), dtype=np.float32)
        with pytest.raises(InferenceServerException, match="unexpected shape for input 'features'"):
            _infer(module, client, STAGING, bad)
        too_many = toy_rows(257, seed=7)  # > max_batch_size
        with pytest.raises(InferenceServerException, match="batch-size must be <= 256"):
            _infer(module, client, STAGING, too_many)
        wrong_type = module.InferInput(INPUT_NAME, [1, N_FEATURES], "FP64")
        wrong_type.set_data_from_numpy(np.zeros((1, N_FEATURES), dtype=np.float64))
        with pytest.raises(InferenceServerException, match=r"FP64|data-type|datatype"):
            client.infer(STAGING, [wrong_type])
        # the server keeps serving
        x = toy_rows(3, seed=3)
        _check(_infer(module, client, STAGING, x), toy_expected[STAGING](x))
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
    triton_dist, toy_repos: list[Path], toy_expected, tmp_path: Path
) -> None:
    """Both models in one root; stop() leaves no tritonserver or stub process behind."""
    import tritonclient.grpc as grpcclient

    from spam_local.tritonserver import LocalTritonServer

    root = tmp_path / "models"
    root.mkdir()
    for repo in toy_repos:
        for model_dir in repo.iterdir():
            shutil.copytree(model_dir, root / model_dir.name)
    server = LocalTritonServer([root], log_dir=tmp_path / "log", startup_timeout=90)
    assert sorted(server.models) == sorted([STAGING, PRODUCTION])
    server.start()
    try:
        pid = server.pid
        assert pid is not None and server.is_alive()
        client = grpcclient.InferenceServerClient(server.grpc_url)
        x = toy_rows(5, seed=5)
        for name in (STAGING, PRODUCTION):
            _check(_infer(grpcclient, client, name, x), toy_expected[name](x))
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
    triton_dist, toy_onnx_models: dict[str, bytes], tmp_path: Path
) -> None:
    from spam_local.tritonserver import LocalTritonServer, TritonServerError

    root = tmp_path / "models"
    model_dir = write_model_repository(toy_onnx_models[STAGING], root)
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
