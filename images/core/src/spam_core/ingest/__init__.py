"""Corpus ingest: sources (archives, trees, maildir, mbox, URLs) -> Parquet dataset."""

from spam_core.ingest.dataset import (
    EMAIL_SCHEMA,
    Manifest,
    ingest,
    load_manifest,
    read_records,
    read_table,
    split_for,
)
from spam_core.ingest.sources import (
    DEFAULT_ARCHIVES,
    PUBLIC_CORPUS_URL,
    RawMessage,
    Skipped,
    iter_source,
)

__all__ = [
    "DEFAULT_ARCHIVES",
    "EMAIL_SCHEMA",
    "PUBLIC_CORPUS_URL",
    "Manifest",
    "RawMessage",
    "Skipped",
    "ingest",
    "iter_source",
    "load_manifest",
    "read_records",
    "read_table",
    "split_for",
]
