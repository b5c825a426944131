"""Ingest of the whole shared corpus: counts, dedup, split, schema, record round trip."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spam_core.errors import SourceError
from spam_core.ingest import EMAIL_SCHEMA, ingest, load_manifest, read_records, read_table
from spam_core.ingest.dataset import split_for
from tests.utils.emails import simple, write_archive


def test_whole_corpus_counts(dataset_dir):
    m = load_manifest(dataset_dir)
    assert m.totals.messages == 4810
    assert (m.totals.spam, m.totals.ham) == (1501, 3309)
    assert 0.30 < m.spam_rate < 0.32
    assert m.totals.duplicates == 1117  # 20050311_spam_2 repeats 20030228_spam_2
    assert m.by_source["20050311_spam_2.tar.bz2"].duplicates == 1117
    assert m.totals.failed == 0 and m.failed == []
    assert sum(1 for s in m.skipped if s.reason == "rename list (cmds)") == 6
    assert sum(s.messages for s in m.splits.values()) == 4810
    assert 0.65 < m.splits["train"].messages / 4810 < 0.75
    assert all(0.2 < s.spam / s.messages < 0.42 for s in m.splits.values())
    assert set(m.checksums) >= {"20030228_spam.tar.bz2", "emails.parquet"}


def test_parquet_has_the_declared_schema(dataset_dir):
    table = pq.read_table(dataset_dir / "emails.parquet")

    def logical(t):  # Parquet keeps a dictionary's values, not its index width
        return t.value_type if pa.types.is_dictionary(t) else t

    assert table.schema.names == EMAIL_SCHEMA.names
    for field, declared in zip(table.schema, EMAIL_SCHEMA, strict=True):
        assert logical(field.type).equals(logical(declared.type)), field.name
        assert field.nullable == declared.nullable, field.name
    # what readers get is exactly the declared schema
    assert read_table(dataset_dir).schema.remove_metadata().equals(EMAIL_SCHEMA.remove_metadata())
    assert table.num_rows == 4810
    assert len(set(table.column("sha256").to_pylist())) == 4810
    assert set(table.column("label").to_pylist()) == {"spam", "ham"}
    assert (
        read_table(dataset_dir, split="test").num_rows
        == load_manifest(dataset_dir).splits["test"].messages
    )


def test_split_is_a_function_of_content(dataset_dir):
    table = read_table(dataset_dir, columns=["sha256", "split"])
    for sha, split in zip(
        table.column("sha256").to_pylist()[:300],
        table.column("split").to_pylist()[:300],
        strict=True,
    ):
        assert split_for(sha) == split


def test_ingest_is_deterministic(tmp_path, corpus_dir):
    a = ingest(corpus_dir / "20030228_hard_ham.tar.bz2", tmp_path / "a")
    b = ingest(corpus_dir / "20030228_hard_ham.tar.bz2", tmp_path / "b")
    assert a.fingerprint == b.fingerprint and a.splits == b.splits
    assert a.dataset_sha256 == b.dataset_sha256


def test_records_read_back(dataset_dir):
    records, labels = read_records(dataset_dir, split="validation")
    assert len(records) == len(labels) == load_manifest(dataset_dir).splits["validation"].messages
    assert all(r.date is None or r.date.tzinfo is not None for r in records)


def test_unreadable_and_empty_sources(tmp_path):
    write_archive(tmp_path / "empty.tar.bz2", {"spam/cmds": b"mv a b\n"})
    with pytest.raises(SourceError, match="no e-mail messages found"):
        ingest(tmp_path / "empty.tar.bz2", tmp_path / "out")
    assert not (tmp_path / "out" / "emails.parquet").exists()


def test_a_message_that_cannot_be_parsed_is_reported_not_fatal(tmp_path, monkeypatch):
    from spam_core.ingest import dataset

    arc = write_archive(
        tmp_path / "x_spam.tar.bz2",
        {
            "spam/1": simple(body="ok one"),
            "spam/2": simple(body="BOOM"),
            "spam/3": simple(body="ok three"),
        },
    )
    real = dataset.parse_raw

    def flaky(data, email_id=None):
        if b"BOOM" in data:
            raise RuntimeError("simulated parser crash")
        return real(data, email_id)

    monkeypatch.setattr(dataset, "parse_raw", flaky)
    m = ingest(arc, tmp_path / "out")
    assert m.totals.messages == 2 and m.totals.failed == 1
    assert m.failed[0].member == "spam/2" and "simulated parser crash" in m.failed[0].reason
    saved = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert saved["totals"]["failed"] == 1


def test_not_a_dataset(tmp_path):
    with pytest.raises(SourceError, match="not an ingested dataset"):
        load_manifest(tmp_path)
    with pytest.raises(SourceError, match="not an ingested dataset"):
        read_table(tmp_path)
