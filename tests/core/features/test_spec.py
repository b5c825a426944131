"""The feature layout, and its documentation table generated from the spec and kept in sync."""

import re
from pathlib import Path

from spam_core.features import spec

DOC = Path(__file__).resolve().parents[3] / "images" / "core" / "FEATURES.md"


def test_500_tfidf_24_engineered_1_linear_and_4_reputation():
    assert spec.N_TFIDF == 500 and spec.N_ENGINEERED == 24 and spec.N_REPUTATION == 4
    assert spec.N_LINEAR == 1 and spec.LINEAR_COLUMN == 524
    assert spec.N_CONTENT == 525 and spec.N_FEATURES == 529
    assert spec.FEATURE_SET_VERSION == "email-529-v4"
    assert len(set(spec.ENGINEERED_NAMES)) == 24 and len(set(spec.REPUTATION_NAMES)) == 4
    assert spec.LINEAR_NAMES == ("text_linear_margin",)
    assert spec.NAMED_FEATURES == spec.ENGINEERED_NAMES + spec.LINEAR_NAMES + spec.REPUTATION_NAMES
    assert len(set(spec.NAMED_FEATURES)) == spec.N_FEATURES - spec.N_TFIDF
    assert {f.group for f in spec.REPUTATION} == {"reputation"}
    vocabulary = [f"t{i}" for i in range(spec.N_TFIDF)]
    names = spec.feature_names(vocabulary)
    assert len(names) == spec.N_FEATURES and names[-4:] == list(spec.REPUTATION_NAMES)


def test_features_md_contains_the_generated_table():
    text = DOC.read_text()
    assert spec.markdown_table() in text, (
        "images/core/FEATURES.md is out of date: regenerate with "
        "`uv run python -m spam_core.features.spec` and paste the table"
    )


def test_features_md_header_names_the_current_feature_set():
    title, _, rest = DOC.read_text().partition("\n")
    assert title == f"# The feature vector (`{spec.FEATURE_SET_VERSION}`)"
    intro = rest.split("| # |")[0]
    assert f"{spec.N_FEATURES} float32 values" in intro
    counts = {
        int(n) for n in re.findall(r"\b(\d+) (?:TF-IDF|engineered|linear|reputation)\b", intro)
    }
    assert counts == {spec.N_TFIDF, spec.N_ENGINEERED, spec.N_LINEAR, spec.N_REPUTATION}, counts
