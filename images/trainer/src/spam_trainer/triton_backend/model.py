"""Triton python-backend model: the spam detector's ONNX graph run with onnxruntime.

Copied into ``<model>/<version>/model.py`` by ``spam_trainer.triton.write_model_repository``
and loaded by ``triton_python_backend_stub`` (which provides ``triton_python_backend_utils``);
it is not importable outside a Triton server. It serves the same inputs and outputs as the
production config's onnxruntime backend, for the tritonserver bundled with nvidia-pytriton,
which has only the python backend.

Everything about the tensors comes from the model config Triton passes in (input name and width,
output names and types, the ``intra_op_thread_count`` parameter); ``model.onnx`` is read from
this model's own version directory. A batch of requests formed by Triton's dynamic batcher is
concatenated into one onnxruntime call and the outputs are split back per request; a request
with a bad input gets its own INVALID_ARG error without failing the others.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

ONNX_FILE = "model.onnx"
INTRA_OP_THREADS_PARAMETER = "intra_op_thread_count"


def _error(message: str, code_name: str = "INVALID_ARG") -> Any:
    """A ``TritonError`` with a code where the stub supports codes (python backend >= 23.09)."""
    code = getattr(pb_utils.TritonError, code_name, None)
    return pb_utils.TritonError(message) if code is None else pb_utils.TritonError(message, code)


class TritonPythonModel:
    """One instance per ``instance_group`` count; each holds its own onnxruntime session."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.model_name = args.get("model_name", config.get("name", "?"))
        self.max_batch_size = int(config.get("max_batch_size", 0))

        # <model_repository>/<model_version>/model.onnx; model_repository is the model's own
        # directory. Fall back to the directory of this file (the same place) if that is absent.
        path = Path(args.get("model_repository", "")) / args.get("model_version", "") / ONNX_FILE
        if not path.is_file():
            path = Path(__file__).resolve().with_name(ONNX_FILE)
        if not path.is_file():
            raise FileNotFoundError(f"{self.model_name}: {ONNX_FILE} not found next to model.py")

        threads = (
            config.get("parameters", {})
            .get(INTRA_OP_THREADS_PARAMETER, {})
            .get("string_value", "1")
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        inputs = config["input"]
        if len(inputs) != 1:
            raise ValueError(f"{self.model_name}: expected one input, config has {len(inputs)}")
        self.input_name: str = inputs[0]["name"]
        self.n_features = int(inputs[0]["dims"][-1])
        self.input_dtype = pb_utils.triton_string_to_numpy(inputs[0]["data_type"])
        onnx_input = {i.name: i for i in self.session.get_inputs()}.get(self.input_name)
        if onnx_input is None or onnx_input.shape[-1] != self.n_features:
            raise ValueError(
                f"{self.model_name}: config input {self.input_name!r} [{self.n_features}] does "
                f"not match the ONNX model's inputs "
                f"{[(i.name, i.shape) for i in self.session.get_inputs()]}"
            )
        self.outputs: list[tuple[str, np.dtype]] = [
            (o["name"], np.dtype(pb_utils.triton_string_to_numpy(o["data_type"])))
            for o in config["output"]
        ]
        missing = {n for n, _ in self.outputs} - {o.name for o in self.session.get_outputs()}
        if missing:
            raise ValueError(f"{self.model_name}: ONNX model lacks outputs {sorted(missing)}")
        self.output_names = [n for n, _ in self.outputs]

    def _features(self, request: Any) -> np.ndarray | str:
        """The request's input as a [rows, n_features] array, or an error message."""
        tensor = pb_utils.get_input_tensor_by_name(request, self.input_name)
        if tensor is None:
            return f"missing input {self.input_name!r}"
        x = tensor.as_numpy()
        if x.ndim != 2 or x.shape[1] != self.n_features:
            return (
                f"input {self.input_name!r} has shape {list(x.shape)}, "
                f"expected [batch, {self.n_features}]"
            )
        if x.dtype != self.input_dtype:
            return f"input {self.input_name!r} is {x.dtype}, expected {np.dtype(self.input_dtype)}"
        return x

    def execute(self, requests: list[Any]) -> list[Any]:
        responses: list[Any] = [None] * len(requests)
        batch: list[np.ndarray] = []
        owners: list[int] = []
        for i, request in enumerate(requests):
            x = self._features(request)
            if isinstance(x, str):
                responses[i] = pb_utils.InferenceResponse(
                    output_tensors=[], error=_error(f"{self.model_name}: {x}")
                )
            else:
                batch.append(x)
                owners.append(i)
        if not batch:
            return responses

        x = batch[0] if len(batch) == 1 else np.concatenate(batch, axis=0)
        try:
            results = self.session.run(self.output_names, {self.input_name: x})
        except Exception as exc:  # onnxruntime's own exception types
            error = _error(f"{self.model_name}: onnxruntime failed: {exc}", "INTERNAL")
            for i in owners:
                responses[i] = pb_utils.InferenceResponse(output_tensors=[], error=error)
            return responses

        bounds = np.cumsum([len(part) for part in batch])[:-1]
        split = [np.split(result, bounds) for result in results]
        for k, i in enumerate(owners):
            tensors = [
                pb_utils.Tensor(name, np.ascontiguousarray(parts[k], dtype=dtype))
                for (name, dtype), parts in zip(self.outputs, split, strict=True)
            ]
            responses[i] = pb_utils.InferenceResponse(output_tensors=tensors)
        return responses

    def finalize(self) -> None:
        self.session = None
