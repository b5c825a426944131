"""Model bundle loading checks; drift baseline math."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from spam_core.bundle import find_bundle_dir, is_registry_uri, read_meta, registered_model_name
from spam_core.drift import bin_frequencies, build_baseline, psi
from spam_core.errors import ArtifactError
from spam_core.features import FEATURE_SET_VERSION
from spam_core.scoring import confidence


@pytest.mark.parametrize(
    ("p", "t", "expected"),
    [
        (0.99, 0.5, "high"),
        (0.70, 0.5, "medium"),
        (0.55, 0.5, "low"),
        (0.45, 0.5, "low"),
        (0.30, 0.5, "medium"),
        (0.01, 0.5, "high"),
        (0.92, 0.9, "low"),
        (0.999, 0.9, "high"),
    ],
)
def test_confidence_is_relative_to_the_threshold(p, t, expected):
    assert confidence(p, t) == expected


def test_find_bundle_dir_errors(tmp_path):
    with pytest.raises(ArtifactError, match="model not found"):
        find_bundle_dir(tmp_path / "missing")
    with pytest.raises(ArtifactError, match="not a spam-platform model bundle"):
        find_bundle_dir(tmp_path)
    (tmp_path / "artifacts" / "bundle").mkdir(parents=True)
    (tmp_path / "artifacts" / "bundle" / "bundle.json").write_text("{}")
    assert find_bundle_dir(tmp_path) == tmp_path / "artifacts" / "bundle"
    with pytest.raises(ArtifactError, match="invalid bundle metadata"):
        read_meta(tmp_path / "artifacts" / "bundle")


@pytest.mark.parametrize(
    ("ref", "registry", "name"),
    [
        ("models:/spam-detector@production", True, "spam-detector"),
        ("models:/other/7", True, "other"),
        ("runs:/abc123/model", True, None),
        ("abfs://models/spam-detector/v3", True, None),
        ("bundles/v3", False, None),
        ("/abs/models:/x", False, None),
    ],
)
def test_model_references(ref, registry, name):
    assert is_registry_uri(ref) is registry
    assert registered_model_name(ref) == name


def test_bins_and_psi():
    edges = [0.0, 1.0]
    assert bin_frequencies(np.array([-1, 0, 0.5, 1, 2]), edges).tolist() == [0.4, 0.4, 0.2]
    ref = [0.25, 0.25, 0.5]
    assert psi(ref, ref) == pytest.approx(0.0)
    assert psi(ref, [0.5, 0.25, 0.25]) > 0.1


def test_baseline_shapes_and_sparse_columns():
    rng = np.random.default_rng(1)
    m = np.zeros((200, 3))
    m[:, 0] = rng.normal(size=200)
    m[:20, 1] = 0.3  # mostly zero, like a TF-IDF column
    b = build_baseline(
        m,
        ["a", "b", "c"],
        labels=np.r_[np.ones(60), np.zeros(140)],
        scores=rng.random(200),
        score_split="validation",
        threshold=0.5,
        feature_set=FEATURE_SET_VERSION,
        features_fingerprint="x",
        created_at=datetime.now(UTC),
    )
    assert b.spam_rate == pytest.approx(0.3)
    assert len(b.features["a"].edges) == 9 and sum(b.features["a"].frequencies) == pytest.approx(1)
    assert len(b.features["b"].edges) <= 2 and b.features["b"].zero_fraction == pytest.approx(0.9)
    assert b.features["c"].edges == [0.0] and b.features["c"].frequencies == [1.0, 0.0]
    assert len(b.score.quantiles) == 101 and 0.3 < b.score.predicted_spam_rate < 0.7


def _baseline(m, names, **kw):
    rng = np.random.default_rng(2)
    return build_baseline(
        m,
        names,
        labels=np.zeros(len(m)),
        scores=rng.random(len(m)),
        score_split="validation",
        threshold=0.5,
        feature_set=FEATURE_SET_VERSION,
        features_fingerprint="x",
        created_at=datetime.now(UTC),
        **kw,
    )


def test_a_column_summarized_from_other_values_than_the_matrix():
    """The reputation is summarized as serving sees it, not as the training rows hold it."""
    m = np.zeros((300, 2))
    served = np.linspace(1.0, 2.0, 50)
    b = _baseline(m, ["content", "reputation"], columns={"reputation": served})
    assert b.features["content"].mean == 0.0
    assert b.features["reputation"].mean == pytest.approx(1.5, abs=1e-6)
    assert b.features["reputation"].edges[0] > 1.0
    with pytest.raises(ValueError, match="not features"):
        _baseline(m, ["content", "reputation"], columns={"typo": served})


def test_the_baseline_summarizes_float32_as_serving_logs_it():
    """An identical distribution logged as float32 (the inference log) scores PSI 0 against
    a float64 reference: log1p(n) and its float32 rounding land in the same bin."""
    counts = np.repeat(np.arange(0, 400, 9), 7).astype(np.float64)
    reference = np.log1p(counts)  # float64, as reputation_features computes it
    b = _baseline(np.zeros((len(counts), 1)), ["rate"], columns={"rate": reference})
    logged = reference.astype(np.float32).astype(np.float64)
    current = bin_frequencies(logged, b.features["rate"].edges)
    assert psi(b.features["rate"].frequencies, current) == pytest.approx(0.0, abs=1e-12)
