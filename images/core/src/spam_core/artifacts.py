"""Fitted feature artifacts: versioned JSON (never pickles), validated on load.

The file records the feature-set version of the code that fitted it, the full ordered
feature-name list, the TF-IDF vocabulary and IDF vector, the linear text model (per hashed
character n-gram bucket: document frequency and coefficient, packed as compressed
little-endian arrays), summary statistics of every feature
on the training split, and a SHA-256 fingerprint of its own content, so a corrupt, edited or
mismatched artifact is refused with a clear message instead of silently skewing predictions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from spam_core.errors import ArtifactError
from spam_core.features.spec import (
    FEATURE_SET_VERSION,
    N_FEATURES,
    N_TFIDF,
    NAMED_FEATURES,
    feature_names,
)

ARTIFACT_KIND = "spam-platform/feature-artifacts"
SCHEMA_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TfidfParams(_Strict):
    token_pattern: str
    lowercase: bool = True
    sublinear_tf: bool = True
    norm: Literal["l2"] | None = "l2"
    vocabulary: list[str]
    idf: list[float]

    @model_validator(mode="after")
    def _check(self) -> TfidfParams:
        if len(self.vocabulary) != N_TFIDF:
            raise ValueError(f"vocabulary has {len(self.vocabulary)} terms, expected {N_TFIDF}")
        if len(self.idf) != len(self.vocabulary):
            raise ValueError("idf and vocabulary differ in length")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError("vocabulary has duplicate terms")
        if not all(math.isfinite(v) and v > 0 for v in self.idf):
            raise ValueError("idf values must be finite and positive")
        return self


class PackedArray(_Strict):
    """A numeric array stored as data in the JSON: its little-endian bytes, zlib-compressed,
    base64-encoded (about 2 MB for the linear margin's 420,000 buckets, where a JSON list of
    numbers would be five times that). ``delta``: stored as successive differences (sorted
    ids compress tenfold). Decoded and checked once when the artifact is loaded."""

    dtype: Literal["<u4", "<f4"]
    length: int = Field(ge=0)
    delta: bool = False
    data: str
    _array: np.ndarray | None = PrivateAttr(default=None)

    @classmethod
    def pack(
        cls, values: np.ndarray, dtype: Literal["<u4", "<f4"], *, delta: bool = False
    ) -> PackedArray:
        values = np.asarray(values)
        stored = np.diff(values, prepend=values.dtype.type(0)) if delta else values
        raw = np.ascontiguousarray(stored, dtype=np.dtype(dtype)).tobytes()
        return cls(
            dtype=dtype,
            length=len(values),
            delta=delta,
            data=base64.b64encode(zlib.compress(raw, 9)).decode("ascii"),
        )

    @model_validator(mode="after")
    def _decode(self) -> PackedArray:
        size = self.length * np.dtype(self.dtype).itemsize
        try:
            packed = base64.b64decode(self.data, validate=True)
            inflate = zlib.decompressobj()
            raw = inflate.decompress(packed, size + 1)  # never inflate past the stated size
        except (ValueError, zlib.error) as exc:
            raise ValueError(f"packed array data is not zlib + base64 ({exc})") from None
        if len(raw) != size or not inflate.eof:
            raise ValueError(f"packed array does not hold {self.length} {self.dtype} values")
        array = np.frombuffer(raw, dtype=self.dtype)
        if self.delta:
            array = np.cumsum(array, dtype=array.dtype)
        array.flags.writeable = False
        self._array = array
        return self

    def array(self) -> np.ndarray:
        """The values (read-only)."""
        assert self._array is not None
        return self._array

    def __eq__(self, other: object) -> bool:  # the fields say it all (not the decoded copy)
        if not isinstance(other, PackedArray):
            return NotImplemented
        return (self.dtype, self.length, self.delta, self.data) == (
            other.dtype,
            other.length,
            other.delta,
            other.data,
        )

    def __hash__(self) -> int:
        return hash((self.dtype, self.length, self.delta, self.data))


class LinearParams(_Strict):
    """``text_linear_margin``: a logistic regression over the TF-IDF of hashed character
    n-grams (:mod:`spam_core.features.linear`), fitted on the training split. Per bucket seen
    in training (either form): its id, its document frequency in the training e-mails (the
    IDF follows from it and ``n_documents``) and its coefficient."""

    analyzer: Literal["utf8-bytes-within-words"] = "utf8-bytes-within-words"
    ngram_range: tuple[int, int] = (3, 5)
    hash_bits: int = Field(ge=8, le=24)
    n_documents: int = Field(gt=0)
    """E-mails the document frequencies were counted over (the training split, raw form)."""
    buckets: PackedArray
    document_frequency: PackedArray
    coef: PackedArray
    intercept: float
    regularization_c: float = Field(gt=0)
    """The inverse regularization strength it was fitted with (the cross-fitted margins of
    the training rows are refit with it)."""
    cross_fit_folds: int = Field(ge=2)
    cross_fit_seed: int

    def bucket_ids(self) -> np.ndarray:
        return self.buckets.array()

    def document_frequencies(self) -> np.ndarray:
        return self.document_frequency.array()

    def coefficients(self) -> np.ndarray:
        return self.coef.array()

    @model_validator(mode="after")
    def _check(self) -> LinearParams:
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi <= 8:
            raise ValueError(f"linear n-gram range {lo}-{hi} is not within 1-8")
        ids, df, coef = self.bucket_ids(), self.document_frequencies(), self.coefficients()
        if self.buckets.dtype != "<u4" or self.document_frequency.dtype != "<u4":
            raise ValueError("linear buckets and document frequencies must be <u4")
        if self.coef.dtype != "<f4":
            raise ValueError("linear coefficients must be <f4")
        if not ids.size:
            raise ValueError("the linear model has no buckets")
        if not len(ids) == len(df) == len(coef):
            raise ValueError("linear buckets, document frequencies and coef differ in length")
        if np.any(np.diff(ids.astype(np.int64)) <= 0) or int(ids[-1]) >= 2**self.hash_bits:
            raise ValueError(f"linear buckets must be increasing and below 2^{self.hash_bits}")
        if int(df.max()) > self.n_documents:
            raise ValueError("a linear document frequency exceeds n_documents")
        if not (np.isfinite(coef).all() and math.isfinite(self.intercept)):
            raise ValueError("linear coefficients must be finite")
        return self


class FeatureStats(_Strict):
    """Distribution of one feature on the training split (also the drift reference)."""

    mean: float
    std: float
    min: float
    max: float
    nonzero_fraction: float


class FitInfo(_Strict):
    dataset: str
    dataset_fingerprint: str
    split: str = "train"
    n_documents: int = Field(gt=0)


class FeatureArtifacts(_Strict):
    kind: Literal["spam-platform/feature-artifacts"] = ARTIFACT_KIND
    schema_version: Literal[1] = SCHEMA_VERSION
    feature_set: str = FEATURE_SET_VERSION
    created_at: datetime
    fitted_on: FitInfo
    feature_names: list[str]
    tfidf: TfidfParams
    linear: LinearParams
    """``text_linear_margin`` (column ``LINEAR_COLUMN``)."""
    stats: dict[str, FeatureStats] = Field(default_factory=dict)

    @field_validator("feature_set")
    @classmethod
    def _same_feature_set(cls, value: str) -> str:
        if value != FEATURE_SET_VERSION:
            raise ValueError(
                f"artifact was fitted for feature set {value!r}, this code computes "
                f"{FEATURE_SET_VERSION!r}: refit the features or deploy matching code"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FeatureArtifacts:
        expected = feature_names(self.tfidf.vocabulary)
        if self.feature_names != expected:
            if len(self.feature_names) != N_FEATURES:
                raise ValueError(
                    f"artifact lists {len(self.feature_names)} features, this code computes "
                    f"{N_FEATURES}"
                )
            diff = next(
                i
                for i, (a, b) in enumerate(zip(self.feature_names, expected, strict=True))
                if a != b
            )
            raise ValueError(
                f"feature {diff} is {self.feature_names[diff]!r} in the artifact but "
                f"{expected[diff]!r} in this code (named: {list(NAMED_FEATURES)})"
            )
        unknown = set(self.stats) - set(self.feature_names)
        if unknown:
            raise ValueError(f"stats for unknown features: {sorted(unknown)[:5]}")
        return self

    def content_json(self) -> str:
        """Canonical JSON of the content (what the fingerprint covers)."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False
        )

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.content_json().encode()).hexdigest()


def dumps(artifacts: FeatureArtifacts) -> str:
    doc = artifacts.model_dump(mode="json")
    doc["fingerprint"] = artifacts.fingerprint
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False) + "\n"


def loads(text: str | bytes, source: str = "<memory>") -> FeatureArtifacts:
    """Parse and validate artifact JSON; raises :class:`ArtifactError` with the reason."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{source}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("kind") != ARTIFACT_KIND:
        raise ArtifactError(
            f"{source}: not a spam-platform feature artifact (kind != {ARTIFACT_KIND!r})"
        )
    recorded = doc.pop("fingerprint", None)
    try:
        artifacts = FeatureArtifacts.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
        )
        raise ArtifactError(f"{source}: invalid feature artifact: {problems}") from None
    if recorded is not None and recorded != artifacts.fingerprint:
        raise ArtifactError(f"{source}: fingerprint mismatch (file was modified or corrupted)")
    return artifacts


def save(artifacts: FeatureArtifacts, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps(artifacts), encoding="utf-8")
    tmp.replace(path)
    return path


def load(uri: str | Path) -> FeatureArtifacts:
    """Load from a local path or any fsspec URL (``abfs://``, ``https://``, ``file://``)."""
    uri = str(uri)
    if "://" in uri and not uri.startswith("file://"):
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - image without the io extra
            raise ArtifactError(f"{uri}: remote artifacts need fsspec (spam-core[io])") from exc
        try:
            with fsspec.open(uri, "rb") as fh:
                return loads(fh.read(), uri)
        except FileNotFoundError as exc:
            raise ArtifactError(f"{uri}: feature artifact not found") from exc
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise ArtifactError(f"{path}: feature artifact not found")
    return loads(path.read_bytes(), str(path))
