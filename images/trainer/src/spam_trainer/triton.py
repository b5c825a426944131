"""The Triton model repository for the spam detector: writer, reader and validator.

One model directory serves two servers::

    <root>/<model_name>/config.pbtxt         production: onnxruntime backend (KServe's Triton)
    <root>/<model_name>/configs/local.pbtxt  local: python backend (the tritonserver bundled with
                                             nvidia-pytriton has no onnxruntime backend); chosen
                                             with ``--model-config-name=local``
    <root>/<model_name>/1/model.onnx         the exported model (``onnx_export.to_onnx``)
    <root>/<model_name>/1/model.py           the python-backend model (``triton_backend/model.py``)

Nothing about the tensors is written by hand: the input width, the output names, types and shapes
all come from the ONNX graph, and the input width must equal the feature spec's ``N_FEATURES`` (a
model trained on another vector length is refused before it reaches a server). The configs are
built as ``ModelConfig`` protobuf messages (Triton's own schema, from ``tritonclient``) and
printed with ``text_format``, so what is written is guaranteed to parse.

Batching: ``max_batch_size`` must be > 0 (``0`` means "this model does not batch" and silently
turns dynamic batching off); the ONNX batch dimension is dynamic and stripped from the config
``dims``. An output whose only dimension is the batch (``label``: ``[batch]``) is declared as
``dims: [1]`` with ``reshape { shape: [] }``, as Triton's model-configuration guide prescribes:
clients see ``[batch, 1]``, the model produces ``[batch]``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import onnx
from google.protobuf import text_format

from spam_core.features.spec import N_FEATURES
from spam_trainer.onnx_export import INPUT_NAME, LABEL, PROBABILITIES

if TYPE_CHECKING:  # tritonclient is imported lazily: see _model_config_pb2()
    from types import ModuleType

    from tritonclient.grpc.model_config_pb2 import ModelConfig, ModelInput, ModelOutput

DEFAULT_MODEL_NAME = "spam-detector"
LOCAL_CONFIG_NAME = "local"
"""``--model-config-name`` that selects ``configs/local.pbtxt`` (python backend)."""
CONFIG_FILE = "config.pbtxt"
ONNX_FILE = "model.onnx"
PYTHON_MODEL_FILE = "model.py"
DEFAULT_VERSION = 1
INTRA_OP_THREADS_PARAMETER = "intra_op_thread_count"
"""Model-config parameter read by both backends (onnxruntime backend and ``model.py``)."""

Backend = Literal["onnxruntime", "python"]

# ONNX TensorProto element type -> Triton model-config data type name
_ONNX_TO_TRITON: dict[int, str] = {
    onnx.TensorProto.BOOL: "TYPE_BOOL",
    onnx.TensorProto.UINT8: "TYPE_UINT8",
    onnx.TensorProto.UINT16: "TYPE_UINT16",
    onnx.TensorProto.UINT32: "TYPE_UINT32",
    onnx.TensorProto.UINT64: "TYPE_UINT64",
    onnx.TensorProto.INT8: "TYPE_INT8",
    onnx.TensorProto.INT16: "TYPE_INT16",
    onnx.TensorProto.INT32: "TYPE_INT32",
    onnx.TensorProto.INT64: "TYPE_INT64",
    onnx.TensorProto.FLOAT16: "TYPE_FP16",
    onnx.TensorProto.FLOAT: "TYPE_FP32",
    onnx.TensorProto.DOUBLE: "TYPE_FP64",
    onnx.TensorProto.STRING: "TYPE_STRING",
}


class ModelRepositoryError(ValueError):
    """The model cannot be written as (or read from) a valid Triton model repository."""


# --------------------------------------------------------------------------- ONNX signature


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One tensor as Triton sees it: batch dimension stripped.

    ``dims`` are the config dims (never empty); ``reshape`` is the model's own per-row shape
    when it differs (``()`` for a ``[batch]`` tensor), else ``None``.
    """

    name: str
    data_type: str
    dims: tuple[int, ...]
    reshape: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class OnnxSignature:
    """Inputs and outputs of a batching ONNX model, in Triton terms."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def n_features(self) -> int:
        """Width of the ``features`` input (the feature-vector length the model was trained on)."""
        return self.input(INPUT_NAME).dims[0]

    def input(self, name: str) -> TensorSpec:
        return _by_name(self.inputs, name, "input")

    def output(self, name: str) -> TensorSpec:
        return _by_name(self.outputs, name, "output")


def _by_name(specs: Iterable[TensorSpec], name: str, kind: str) -> TensorSpec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise ModelRepositoryError(f"the ONNX model has no {kind} named {name!r}")


def _tensor_spec(value: onnx.ValueInfoProto) -> TensorSpec:
    tensor = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        raise ModelRepositoryError(f"ONNX value {value.name!r} is not a tensor")
    data_type = _ONNX_TO_TRITON.get(tensor.elem_type)
    if data_type is None:
        raise ModelRepositoryError(
            f"ONNX tensor {value.name!r} has element type "
            f"{onnx.TensorProto.DataType.Name(tensor.elem_type)}, which Triton does not serve"
        )
    dims = list(tensor.shape.dim)
    if not dims:
        raise ModelRepositoryError(f"ONNX tensor {value.name!r} has no batch dimension (rank 0)")
    if dims[0].HasField("dim_value") and dims[0].dim_value > 0:
        raise ModelRepositoryError(
            f"ONNX tensor {value.name!r} has a fixed first dimension ({dims[0].dim_value}): "
            "Triton batching needs a dynamic batch dimension"
        )
    rest: list[int] = []
    for d in dims[1:]:
        if not (d.HasField("dim_value") and d.dim_value > 0):
            raise ModelRepositoryError(
                f"ONNX tensor {value.name!r} has a dynamic non-batch dimension: "
                "the repository writer needs fixed per-row shapes"
            )
        rest.append(d.dim_value)
    if not rest:  # [batch] -> API shape [batch, 1], model shape [batch]
        return TensorSpec(value.name, data_type, (1,), ())
    return TensorSpec(value.name, data_type, tuple(rest))


def onnx_signature(model: onnx.ModelProto) -> OnnxSignature:
    """Triton view of the model's graph inputs (initializers excluded) and outputs."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = tuple(_tensor_spec(v) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(_tensor_spec(v) for v in model.graph.output)
    names = [s.name for s in inputs]
    if names != [INPUT_NAME]:
        raise ModelRepositoryError(f"expected exactly one input {INPUT_NAME!r}, got {names}")
    spec = inputs[0]
    if spec.data_type != "TYPE_FP32" or len(spec.dims) != 1 or spec.reshape is not None:
        raise ModelRepositoryError(
            f"input {INPUT_NAME!r} must be float32 [batch, n_features], got {spec.data_type} "
            f"dims {list(spec.dims)}"
        )
    for name in (LABEL, PROBABILITIES):
        _by_name(outputs, name, "output")
    return OnnxSignature(inputs, outputs)


def _load_onnx(onnx_model: bytes | Path | onnx.ModelProto) -> tuple[bytes, onnx.ModelProto]:
    if isinstance(onnx_model, onnx.ModelProto):
        return onnx_model.SerializeToString(), onnx_model
    data = Path(onnx_model).read_bytes() if isinstance(onnx_model, str | Path) else onnx_model
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelRepositoryError(f"not a loadable ONNX model: {exc}") from exc
    return data, proto


def check_n_features(signature: OnnxSignature, n_features: int) -> None:
    """Refuse a model whose input width is not the feature spec's (e.g. 529 vs 528)."""
    if signature.n_features != n_features:
        raise ModelRepositoryError(
            f"the ONNX model's input {INPUT_NAME!r} takes {signature.n_features} features but "
            f"the feature spec says {n_features} (spam_core.features.spec.N_FEATURES): the "
            "model was trained on another feature vector; re-export it from a model trained on "
            "the current feature set"
        )


# --------------------------------------------------------------------------- ModelConfig


def _model_config_pb2() -> ModuleType:
    """Triton's ModelConfig schema. It ships with ``tritonclient[grpc]``."""
    try:
        from tritonclient.grpc import model_config_pb2
    except (ImportError, RuntimeError) as exc:  # tritonclient raises RuntimeError without grpc
        raise ModelRepositoryError(
            "writing/reading Triton configs needs tritonclient[grpc] (ModelConfig protobuf)"
        ) from exc
    return model_config_pb2


def build_model_config(
    signature: OnnxSignature,
    *,
    model_name: str,
    backend: Backend,
    max_batch_size: int,
    preferred_batch_size: Sequence[int],
    max_queue_delay_us: int,
    instances: int,
    intra_op_threads: int = 1,
) -> ModelConfig:
    """The ``ModelConfig`` message for one backend (same I/O and batching for both)."""
    pb = _model_config_pb2()
    _check_batching(max_batch_size, preferred_batch_size, max_queue_delay_us, instances)
    config = pb.ModelConfig(name=model_name, max_batch_size=max_batch_size)
    if backend == "onnxruntime":
        config.platform = "onnxruntime_onnx"
        config.backend = "onnxruntime"
        config.default_model_filename = ONNX_FILE
    elif backend == "python":
        config.backend = "python"
    else:
        raise ModelRepositoryError(f"unknown backend {backend!r}")
    for spec in signature.inputs:
        tensor = config.input.add(
            name=spec.name, data_type=pb.DataType.Value(spec.data_type), dims=spec.dims
        )
        if spec.reshape is not None:
            tensor.reshape.SetInParent()
            tensor.reshape.shape.extend(spec.reshape)
    for spec in signature.outputs:
        tensor = config.output.add(
            name=spec.name, data_type=pb.DataType.Value(spec.data_type), dims=spec.dims
        )
        if spec.reshape is not None:
            tensor.reshape.SetInParent()  # an empty reshape (shape: []) must still be present
            tensor.reshape.shape.extend(spec.reshape)
    batching = config.dynamic_batching
    batching.SetInParent()
    batching.preferred_batch_size.extend(sorted(set(preferred_batch_size)))
    batching.max_queue_delay_microseconds = max_queue_delay_us
    config.instance_group.add(count=instances, kind=pb.ModelInstanceGroup.KIND_CPU)
    config.parameters[INTRA_OP_THREADS_PARAMETER].string_value = str(intra_op_threads)
    return config


def _check_batching(
    max_batch_size: int, preferred: Sequence[int], max_queue_delay_us: int, instances: int
) -> None:
    if max_batch_size <= 0:
        raise ModelRepositoryError(
            f"max_batch_size must be > 0 (got {max_batch_size}): 0 disables batching"
        )
    bad = [p for p in preferred if not 0 < p <= max_batch_size]
    if bad:
        raise ModelRepositoryError(
            f"preferred_batch_size {bad} outside 1..max_batch_size ({max_batch_size})"
        )
    if max_queue_delay_us < 0:
        raise ModelRepositoryError(f"max_queue_delay_us must be >= 0, got {max_queue_delay_us}")
    if instances < 1:
        raise ModelRepositoryError(f"instances must be >= 1, got {instances}")


def config_to_text(config: ModelConfig) -> str:
    """The pbtxt text of a ``ModelConfig``."""
    return text_format.MessageToString(config)


def read_model_config(path: Path | str) -> ModelConfig:
    """Parse a ``config.pbtxt`` into a ``ModelConfig``; raises ``ModelRepositoryError``."""
    pb = _model_config_pb2()
    path = Path(path)
    try:
        return text_format.Parse(path.read_text(), pb.ModelConfig())
    except (OSError, text_format.ParseError) as exc:
        raise ModelRepositoryError(f"{path}: not a readable Triton model config: {exc}") from exc


def local_config_path(model_dir: Path, config_name: str = LOCAL_CONFIG_NAME) -> Path:
    return model_dir / "configs" / f"{config_name}.pbtxt"


def _python_model_source() -> bytes:
    return resources.files("spam_trainer.triton_backend").joinpath(PYTHON_MODEL_FILE).read_bytes()


# --------------------------------------------------------------------------- writer


def write_model_repository(
    onnx_model: bytes | Path | onnx.ModelProto,
    out_dir: Path,
    *,
    model_name: str = DEFAULT_MODEL_NAME,
    n_features: int = N_FEATURES,
    max_batch_size: int = 256,
    preferred_batch_size: Sequence[int] = (16, 64),
    max_queue_delay_us: int = 500,
    instances: int = 1,
    intra_op_threads: int = 1,
    version: int = DEFAULT_VERSION,
) -> Path:
    """Write ``out_dir/<model_name>/`` (both configs, ``<version>/model.onnx`` and ``model.py``).

    ``n_features`` is checked against the ONNX input width (``ModelRepositoryError`` on a
    mismatch); the config dims are taken from the model. An existing model directory of the
    same name is replaced as a whole (written next to it, then swapped in). Returns the model
    directory; ``out_dir`` is the repository root to pass to ``--model-repository``.
    """
    if not model_name or "/" in model_name or model_name.startswith("."):
        raise ModelRepositoryError(f"invalid model name {model_name!r}")
    if version < 1:
        raise ModelRepositoryError(f"model version must be >= 1, got {version}")
    data, proto = _load_onnx(onnx_model)
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise ModelRepositoryError(f"invalid ONNX model: {exc}") from exc
    signature = onnx_signature(proto)
    check_n_features(signature, n_features)
    common = {
        "model_name": model_name,
        "max_batch_size": max_batch_size,
        "preferred_batch_size": preferred_batch_size,
        "max_queue_delay_us": max_queue_delay_us,
        "instances": instances,
        "intra_op_threads": intra_op_threads,
    }
    production = build_model_config(signature, backend="onnxruntime", **common)
    local = build_model_config(signature, backend="python", **common)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_dir = out_dir / model_name
    staging = Path(tempfile.mkdtemp(prefix=f".{model_name}.", dir=out_dir))
    try:
        (staging / CONFIG_FILE).write_text(config_to_text(production))
        local_path = local_config_path(staging)
        local_path.parent.mkdir()
        local_path.write_text(config_to_text(local))
        version_dir = staging / str(version)
        version_dir.mkdir()
        (version_dir / ONNX_FILE).write_bytes(data)
        (version_dir / PYTHON_MODEL_FILE).write_bytes(_python_model_source())
        staging.chmod(0o755)  # mkdtemp makes it 0700
        if model_dir.exists():
            shutil.rmtree(model_dir)
        os.replace(staging, model_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return model_dir


# --------------------------------------------------------------------------- validator


def _spec_of(tensor: ModelInput | ModelOutput) -> TensorSpec:
    pb = _model_config_pb2()
    reshape = tuple(tensor.reshape.shape) if tensor.HasField("reshape") else None
    return TensorSpec(tensor.name, pb.DataType.Name(tensor.data_type), tuple(tensor.dims), reshape)


def _config_problems(
    config: ModelConfig,
    where: str,
    *,
    model_name: str,
    backend: Backend,
    n_features: int,
    signature: OnnxSignature | None,
) -> list[str]:
    pb = _model_config_pb2()
    problems: list[str] = []
    if config.name and config.name != model_name:
        problems.append(f"{where}: name {config.name!r} differs from the directory {model_name!r}")
    if backend == "onnxruntime":
        if config.backend not in ("", "onnxruntime") or config.platform not in (
            "",
            "onnxruntime_onnx",
        ):
            problems.append(
                f"{where}: expected backend onnxruntime / platform onnxruntime_onnx, got "
                f"backend {config.backend!r} platform {config.platform!r}"
            )
        elif not config.backend and not config.platform:
            problems.append(f"{where}: neither backend nor platform is set")
    elif config.backend != "python":
        problems.append(f"{where}: expected backend 'python', got {config.backend!r}")

    if config.max_batch_size <= 0:
        problems.append(
            f"{where}: max_batch_size is {config.max_batch_size}; it must be > 0 "
            "(0 disables batching, dynamic batching included)"
        )
    if not config.HasField("dynamic_batching"):
        problems.append(f"{where}: no dynamic_batching section")
    else:
        too_big = [
            p for p in config.dynamic_batching.preferred_batch_size if p > config.max_batch_size
        ]
        if too_big and config.max_batch_size > 0:
            problems.append(
                f"{where}: preferred_batch_size {too_big} > max_batch_size {config.max_batch_size}"
            )

    inputs = {t.name: _spec_of(t) for t in config.input}
    features = inputs.get(INPUT_NAME)
    if features is None:
        problems.append(f"{where}: no input {INPUT_NAME!r}")
    else:
        if features.data_type != "TYPE_FP32":
            problems.append(f"{where}: input {INPUT_NAME!r} is {features.data_type}, not TYPE_FP32")
        if features.dims != (n_features,):
            problems.append(
                f"{where}: input {INPUT_NAME!r} dims {list(features.dims)} != [{n_features}] "
                "(the feature spec's N_FEATURES)"
            )
    if signature is not None:
        expected_in = {s.name: s for s in signature.inputs}
        expected_out = {s.name: s for s in signature.outputs}
        outputs = {t.name: _spec_of(t) for t in config.output}
        for kind, got, expected in (
            ("input", inputs, expected_in),
            ("output", outputs, expected_out),
        ):
            for name in sorted(expected.keys() - got.keys()):
                problems.append(f"{where}: {kind} {name!r} of the ONNX model is missing")
            for name in sorted(got.keys() - expected.keys()):
                problems.append(f"{where}: {kind} {name!r} is not in the ONNX model")
            for name in sorted(got.keys() & expected.keys()):
                if got[name] != expected[name]:
                    problems.append(
                        f"{where}: {kind} {name!r} is {_describe(got[name])}, the ONNX model "
                        f"needs {_describe(expected[name])}"
                    )
    if not config.instance_group:
        problems.append(f"{where}: no instance_group")
    for group in config.instance_group:
        if group.kind != pb.ModelInstanceGroup.KIND_CPU:
            problems.append(
                f"{where}: instance_group kind "
                f"{pb.ModelInstanceGroup.Kind.Name(group.kind)}, expected KIND_CPU"
            )
        if group.count < 1:
            problems.append(f"{where}: instance_group count {group.count} < 1")
    return problems


def _describe(spec: TensorSpec) -> str:
    text = f"{spec.data_type} dims {list(spec.dims)}"
    return text if spec.reshape is None else f"{text} reshape {list(spec.reshape)}"


def _version_dirs(model_dir: Path) -> list[Path]:
    return sorted(
        (p for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit() and int(p.name) > 0),
        key=lambda p: int(p.name),
    )


def validate_model_repository(
    root: Path,
    model_name: str = DEFAULT_MODEL_NAME,
    n_features: int = N_FEATURES,
    *,
    local_config_name: str = LOCAL_CONFIG_NAME,
) -> list[str]:
    """Problems with ``root/<model_name>`` (an empty list means servable by both configs).

    Checks: both configs parse; backends; ``max_batch_size > 0``; dynamic batching present;
    ``features`` dims equal ``n_features``; every version's ``model.onnx`` loads in
    onnxruntime, takes ``n_features`` and matches the configs' inputs/outputs; ``model.py``
    present for the python backend.
    """
    import onnxruntime as ort  # heavy: only for validation

    model_dir = Path(root) / model_name
    if not model_dir.is_dir():
        return [f"{model_dir}: model directory missing"]
    problems: list[str] = []

    signature: OnnxSignature | None = None
    versions = _version_dirs(model_dir)
    if not versions:
        problems.append(f"{model_dir}: no numeric version directory (e.g. 1/)")
    for version_dir in versions:
        onnx_path = version_dir / ONNX_FILE
        if not onnx_path.is_file():
            problems.append(f"{onnx_path}: missing")
            continue
        try:
            _, proto = _load_onnx(onnx_path)
            version_signature = onnx_signature(proto)
            check_n_features(version_signature, n_features)
        except ModelRepositoryError as exc:
            problems.append(f"{onnx_path}: {exc}")
            continue
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            problems.append(f"{onnx_path}: onnxruntime cannot load it: {exc}")
            continue
        if signature is not None and version_signature != signature:
            problems.append(f"{onnx_path}: inputs/outputs differ from the other versions'")
        signature = signature or version_signature
        if not (version_dir / PYTHON_MODEL_FILE).is_file():
            problems.append(f"{version_dir / PYTHON_MODEL_FILE}: missing (python backend)")

    for path, backend in (
        (model_dir / CONFIG_FILE, "onnxruntime"),
        (local_config_path(model_dir, local_config_name), "python"),
    ):
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        try:
            config = read_model_config(path)
        except ModelRepositoryError as exc:
            problems.append(str(exc))
            continue
        problems += _config_problems(
            config,
            str(path.relative_to(root)),
            model_name=model_name,
            backend=backend,
            n_features=n_features,
            signature=signature,
        )
    return problems
