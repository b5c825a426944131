"""XGBoost -> ONNX with onnxmltools, and the parity check that guards every export.

The ONNX graph has one input ``features`` (float32, ``[batch, N_FEATURES]``) and two outputs,
``label`` (int64) and ``probabilities`` (float32, ``[batch, 2]``; column 1 is spam). The model
is trained on dense float32 input with ``missing=NaN``, so zeros are values on both sides
(XGBoost on sparse input would treat them as missing while ONNX does not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import xgboost as xgb
from onnxmltools import convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType

from spam_core.features.spec import FEATURE_SET_VERSION, N_FEATURES

INPUT_NAME = "features"
PROBABILITIES = "probabilities"
LABEL = "label"
PARITY_TOLERANCE = 1e-5


class ParityError(RuntimeError):
    """ONNX and XGBoost disagree beyond the tolerance: the export must not ship."""


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    n_rows: int
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def to_onnx(
    model: xgb.XGBClassifier, *, n_features: int = N_FEATURES, doc: str = ""
) -> onnx.ModelProto:
    """Convert; opset chosen by onnxmltools (an explicit target_opset 17 fails)."""
    proto = convert_xgboost(
        model, initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))]
    )
    proto.doc_string = doc or f"spam-detector XGBoost, feature set {FEATURE_SET_VERSION}"
    meta = proto.metadata_props.add()
    meta.key, meta.value = "feature_set", FEATURE_SET_VERSION
    onnx.checker.check_model(proto)
    return proto


def session(model_bytes: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def check_parity(
    model: xgb.XGBClassifier,
    proto: onnx.ModelProto,
    x: np.ndarray,
    tolerance: float = PARITY_TOLERANCE,
) -> Parity:
    """Max |p_onnx - p_xgboost| of the spam probability over ``x``; raises ``ParityError``."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    expected = model.predict_proba(x)[:, 1]
    got = session(proto.SerializeToString()).run([PROBABILITIES], {INPUT_NAME: x})[0][:, 1]
    parity = Parity(float(np.max(np.abs(expected - got))) if len(x) else 0.0, len(x), tolerance)
    if not parity.ok:
        raise ParityError(
            f"ONNX and XGBoost probabilities differ by {parity.max_abs_diff:.3g} "
            f"(> {tolerance:g}) on {len(x)} rows: the export is not faithful"
        )
    return parity
