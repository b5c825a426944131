"""The feature documentation table is generated from the spec and kept in sync."""

from pathlib import Path

from spam_core.features import spec

DOC = Path(__file__).resolve().parents[3] / "images" / "core" / "FEATURES.md"


def test_twenty_four_engineered_and_five_hundred_tfidf():
    assert spec.N_ENGINEERED == 24 and spec.N_TFIDF == 500 and spec.N_FEATURES == 524
    assert len(set(spec.ENGINEERED_NAMES)) == 24


def test_features_md_contains_the_generated_table():
    text = DOC.read_text()
    assert spec.markdown_table() in text, (
        "images/core/FEATURES.md is out of date: regenerate with "
        "`uv run python -m spam_core.features.spec` and paste the table"
    )
