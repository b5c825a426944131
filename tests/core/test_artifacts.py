"""Fitted artifacts are versioned JSON, validated on load; anything else is refused clearly."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from spam_core import artifacts
from spam_core.errors import ArtifactError
from spam_core.features import FEATURE_SET_VERSION, REPUTATION_NAMES, FeatureExtractor


def test_round_trip_keeps_fingerprint_and_vectors(
    fitted, tmp_path, corpus_records, train_reputation
):
    path = artifacts.save(fitted, tmp_path / "f.json")
    loaded = artifacts.load(path)
    assert loaded.fingerprint == fitted.fingerprint
    assert loaded == fitted
    records, _ = corpus_records
    a = FeatureExtractor(fitted).transform_records(records[:50], train_reputation)
    b = FeatureExtractor(loaded).transform_records(records[:50], train_reputation)
    assert np.array_equal(a, b)
    doc = json.loads(path.read_text())
    assert doc["kind"] == "spam-platform/feature-artifacts"
    assert doc["feature_set"] == FEATURE_SET_VERSION == "email-529-v4"
    assert len(doc["feature_names"]) == 529
    assert tuple(doc["feature_names"][-4:]) == REPUTATION_NAMES
    assert set(doc["stats"]) == set(doc["feature_names"])


def test_file_url_and_missing_file(fitted, tmp_path):
    path = artifacts.save(fitted, tmp_path / "f.json")
    assert artifacts.load(f"file://{path}").fingerprint == fitted.fingerprint
    with pytest.raises(ArtifactError, match="not found"):
        artifacts.load(tmp_path / "nope.json")


def _edit(fitted, tmp_path, change) -> str:
    doc = json.loads(artifacts.dumps(fitted))
    change(doc)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_tampered_content_is_detected(fitted, tmp_path):
    def bump_idf(doc):
        doc["tfidf"]["idf"][0] += 0.5

    with pytest.raises(ArtifactError, match="fingerprint mismatch"):
        artifacts.load(_edit(fitted, tmp_path, bump_idf))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(feature_set="email-524-v1"), "feature set 'email-524-v1'"),
        (
            lambda d: d["tfidf"].update(
                vocabulary=d["tfidf"]["vocabulary"][:-1], idf=d["tfidf"]["idf"][:-1]
            ),
            "499 terms",
        ),
        (lambda d: d["feature_names"].reverse(), "feature 0 is"),
        (lambda d: d["tfidf"]["idf"].__setitem__(3, -1.0), "finite and positive"),
        (lambda d: d.update(extra_key=1), "extra_key"),
        (lambda d: d.update(kind="something-else"), "not a spam-platform feature artifact"),
    ],
)
def test_invalid_artifacts_are_refused_with_the_reason(fitted, tmp_path, change, message):
    def apply(doc):
        change(doc)
        doc.pop("fingerprint")

    with pytest.raises(ArtifactError, match=message):
        artifacts.load(_edit(fitted, tmp_path, apply))


def test_a_pickle_is_never_loaded(fitted, tmp_path):
    path = tmp_path / "features.pkl"
    path.write_bytes(pickle.dumps(fitted))
    with pytest.raises(ArtifactError, match="not valid JSON"):
        artifacts.load(path)


def test_reputation_column_stats_come_from_the_point_in_time_history(fitted):
    """Fitted on the train split's retrieved history, not on the defaults."""
    s = fitted.stats
    sender, domain = s["sender_message_count_log"], s["domain_message_count_log"]
    assert 0.2 < sender.nonzero_fraction < 0.9
    assert domain.nonzero_fraction >= sender.nonzero_fraction
    for rate in ("sender_spam_rate", "domain_spam_rate"):
        assert 0 < s[rate].min < 0.5 < s[rate].max < 1 and s[rate].std > 0.05, rate
