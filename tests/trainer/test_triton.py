"""Triton model repository: the writer and the validator (spam_trainer.triton).

The bundled tritonserver serving such repositories is tested in tests/local/test_tritonserver.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf import text_format

from spam_core.features.spec import N_FEATURES
from spam_trainer.onnx_export import INPUT_NAME, LABEL, PROBABILITIES
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
from tests.utils.toy_models import PRODUCTION, STAGING, toy_onnx

KIND_CPU = 2  # ModelInstanceGroup.Kind.KIND_CPU


def test_layout_and_configs(toy_repos: list[Path]) -> None:
    root = toy_repos[0]
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
    for root, name in zip(toy_repos, (STAGING, PRODUCTION), strict=True):
        assert validate_model_repository(root, name, N_FEATURES) == []


def _edit_config(path: Path, edit: Callable) -> None:
    config = read_model_config(path)
    edit(config)
    path.write_text(text_format.MessageToString(config))


def test_validator_reports_broken_batching(
    toy_onnx_models: dict[str, bytes], tmp_path: Path
) -> None:
    model_dir = write_model_repository(toy_onnx_models[STAGING], tmp_path)
    _edit_config(model_dir / CONFIG_FILE, lambda c: setattr(c, "max_batch_size", 0))
    _edit_config(local_config_path(model_dir), lambda c: c.ClearField("dynamic_batching"))
    problems = validate_model_repository(tmp_path)
    assert any("config.pbtxt" in p and "max_batch_size is 0" in p for p in problems), problems
    assert any("local.pbtxt" in p and "no dynamic_batching" in p for p in problems), problems
    assert len(problems) == 2, problems

    with pytest.raises(ModelRepositoryError, match="max_batch_size must be > 0"):
        write_model_repository(toy_onnx_models[STAGING], tmp_path / "x", max_batch_size=0)
    with pytest.raises(ModelRepositoryError, match="preferred_batch_size"):
        write_model_repository(toy_onnx_models[STAGING], tmp_path / "x", max_batch_size=32)


def test_validator_reports_dims_and_model_problems(
    toy_onnx_models: dict[str, bytes], tmp_path: Path
) -> None:
    model_dir = write_model_repository(toy_onnx_models[STAGING], tmp_path)
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
    wide = toy_onnx(3, n_features=N_FEATURES + 4)
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
