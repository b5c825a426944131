"""The exported model bundle: everything needed to score e-mails, as plain files.

Layout (written by the trainer, logged to MLflow under the registered model's
``artifacts/bundle/``, and readable from any local directory)::

    bundle.json           BundleMeta: name, version, threshold, hashes, metrics
    features.json         fitted feature artifacts (spam_core.artifacts)
    model.onnx            the classifier (input ``features`` [batch, N_FEATURES] float32)
    xgboost.json          the same model in XGBoost's own JSON format (reference, explainability)
    drift_baseline.json   training distributions for drift detection
    triton/<model>/...    Triton model repository (config.pbtxt, configs/local.pbtxt, 1/model.onnx)

:class:`ModelBundle` loads and cross-checks the parts (the ONNX input width must equal the
feature vector's, the feature fingerprint and ONNX hash must match ``bundle.json``), so a
mismatched or corrupt bundle fails at load with a clear message, not at the first request.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spam_core import artifacts as _artifacts
from spam_core.errors import ArtifactError
from spam_core.features import FeatureExtractor, ReputationSource
from spam_core.message.record import EmailRecord

BUNDLE_META = "bundle.json"
FEATURES_FILE = "features.json"
ONNX_FILE = "model.onnx"
XGBOOST_FILE = "xgboost.json"
BASELINE_FILE = "drift_baseline.json"
TRITON_DIR = "triton"
ONNX_INPUT = "features"
ONNX_PROBABILITIES = "probabilities"


class BundleMeta(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["spam-platform/model-bundle"] = "spam-platform/model-bundle"
    schema_version: Literal[1] = 1
    model_name: str
    model_version: str = Field(description="Registry version, or 'unregistered'.")
    run_id: str | None = None
    created_at: datetime
    feature_set: str
    features_fingerprint: str
    n_features: int
    onnx_sha256: str
    threshold: float = Field(ge=0.0, le=1.0)
    threshold_rule: str
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, float | int | str] = Field(default_factory=dict)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelBundle:
    """A loaded bundle: feature extractor + ONNX session + threshold."""

    def __init__(
        self, path: Path, meta: BundleMeta, extractor: FeatureExtractor, onnx_bytes: bytes
    ) -> None:
        import onnxruntime as ort

        self.path = path
        self.meta = meta
        self.extractor = extractor
        self._explainer = None
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        width = self.session.get_inputs()[0].shape[1]
        if width != extractor.n_features:
            raise ArtifactError(
                f"{path}: the ONNX model takes {width} features but the feature "
                f"artifacts produce {extractor.n_features}"
            )

    @property
    def threshold(self) -> float:
        return self.meta.threshold

    @property
    def version(self) -> str:
        return self.meta.model_version

    @classmethod
    def load(cls, path: str | Path) -> ModelBundle:
        root = find_bundle_dir(Path(path))
        meta = read_meta(root)
        features = _artifacts.load(root / FEATURES_FILE)
        if features.fingerprint != meta.features_fingerprint:
            raise ArtifactError(
                f"{root}: features.json does not belong to this model (fingerprint mismatch)"
            )
        onnx_path = root / ONNX_FILE
        if not onnx_path.is_file():
            raise ArtifactError(f"{root}: {ONNX_FILE} is missing")
        onnx_bytes = onnx_path.read_bytes()
        if sha256_bytes(onnx_bytes) != meta.onnx_sha256:
            raise ArtifactError(
                f"{onnx_path}: SHA-256 differs from bundle.json (corrupt or replaced model)"
            )
        try:
            return cls(root, meta, FeatureExtractor(features), onnx_bytes)
        except ArtifactError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ArtifactError(f"{onnx_path}: cannot load the ONNX model: {exc}") from exc

    def explainer(self):
        """TreeSHAP explanations from the bundle's ``xgboost.json`` (``spam_core.explain``;
        needs xgboost), loaded once on first use."""
        if self._explainer is None:
            from spam_core.explain import Explainer

            path = self.path / XGBOOST_FILE
            if not path.is_file():
                raise ArtifactError(f"{self.path}: {XGBOOST_FILE} is missing (needed to explain)")
            self._explainer = Explainer(path.read_bytes(), self.extractor.feature_names)
        return self._explainer

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Spam probabilities for a (n, n_features) float32 matrix."""
        if len(matrix) == 0:
            return np.zeros(0, dtype=np.float32)
        out = self.session.run([ONNX_PROBABILITIES], {ONNX_INPUT: matrix})[0]
        return out[:, 1]

    def predict_records(
        self, records: Sequence[EmailRecord], reputation: ReputationSource
    ) -> np.ndarray:
        return self.predict_matrix(self.extractor.transform_records(records, reputation))


def find_bundle_dir(path: Path) -> Path:
    """``path`` itself, or the bundle inside an MLflow model directory (``artifacts/bundle``)."""
    for candidate in (path, path / "artifacts" / "bundle", path / "bundle"):
        if (candidate / BUNDLE_META).is_file():
            return candidate
    if not path.exists():
        raise ArtifactError(f"{path}: model not found")
    raise ArtifactError(f"{path}: not a spam-platform model bundle (no {BUNDLE_META})")


def write_meta(root: Path, meta: BundleMeta) -> None:
    (root / BUNDLE_META).write_text(json.dumps(meta.model_dump(mode="json"), indent=1) + "\n")


def read_meta(root: Path) -> BundleMeta:
    """A bundle directory's ``bundle.json`` (``ArtifactError`` when it is not valid)."""
    try:
        return BundleMeta.model_validate_json((root / BUNDLE_META).read_text())
    except ValidationError as exc:
        raise ArtifactError(
            f"{root / BUNDLE_META}: invalid bundle metadata: {exc.errors()[0]['msg']}"
        ) from None


def is_registry_uri(ref: str) -> bool:
    """An MLflow URI (``models:/…``, ``runs:/…``, any ``scheme://…``), not a local directory."""
    return "://" in ref or ref.startswith(("models:/", "runs:/"))


def registered_model_name(ref: str) -> str | None:
    """The registered model a ``models:/name@alias`` or ``models:/name/N`` URI names, else None."""
    if not ref.startswith("models:/"):
        return None
    return ref.removeprefix("models:/").split("/")[0].split("@")[0]


def resolve_model_ref(ref: str, cache_dir: Path | None = None) -> tuple[Path, str | None]:
    """Model reference -> (local bundle directory, registry version or None).

    ``ref`` is an MLflow URI (``models:/name@alias``, ``models:/name/N``, ``runs:/…``; needs
    ``mlflow-skinny``, the ``registry`` extra, and ``MLFLOW_TRACKING_URI``), or a local exported
    bundle (or MLflow model) directory.
    """
    if not is_registry_uri(ref):
        path = Path(ref).expanduser()
        if not path.exists():
            raise ArtifactError(f"{ref}: no such model directory")
        return find_bundle_dir(path), None
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError as exc:  # pragma: no cover - image without the registry extra
        raise ArtifactError(f"{ref}: MLflow model URIs need mlflow (spam-core[registry])") from exc

    version = None
    if ref.startswith("models:/"):
        spec = ref.removeprefix("models:/")
        client = mlflow.MlflowClient()
        try:
            if "@" in spec:
                name, alias = spec.split("@", 1)
                version = str(client.get_model_version_by_alias(name, alias).version)
            elif "/" in spec:
                version = spec.rsplit("/", 1)[1]
        except MlflowException as exc:
            raise ArtifactError(f"{ref}: {exc.message}") from None
    dest = Path(tempfile.mkdtemp(prefix="spam-model-", dir=cache_dir))
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=ref, dst_path=str(dest))
    except (MlflowException, OSError) as exc:
        raise ArtifactError(f"{ref}: cannot download the model: {exc}") from None
    return find_bundle_dir(Path(local)), version
