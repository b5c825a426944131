"""Ingest: a corpus source -> a Parquet dataset of normalized records + a manifest.

Layout of an ingested dataset directory::

    emails.parquet     one row per distinct message (declared schema ``EMAIL_SCHEMA``)
    manifest.json      counts per source and label, skipped files, failures, splits, checksums

Messages are de-duplicated by the SHA-256 of their bytes (``20030228_spam_2`` and
``20050311_spam_2`` share all but one message). The train / validation / test split is a
pure function of that hash, so it is the same on every machine and every run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from spam_core import __version__
from spam_core.errors import SourceError
from spam_core.ingest.sources import (
    Item,
    Label,
    RawMessage,
    Skipped,
    is_archive,
    iter_source,
    sha256_file,
)
from spam_core.message.parse import parse_raw
from spam_core.message.record import EmailRecord

DATASET_FILE = "emails.parquet"
MANIFEST_FILE = "manifest.json"
SPLITS = ("train", "validation", "test")
Split = Literal["train", "validation", "test"]
SPLIT_FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}
_ROW_GROUP = 1000

EMAIL_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("source", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("member", pa.string(), nullable=False),
        pa.field("label", pa.dictionary(pa.int8(), pa.string())),
        pa.field("split", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("size_bytes", pa.int64(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("sender", pa.string(), nullable=False),
        pa.field("sender_name", pa.string(), nullable=False),
        pa.field("sender_address", pa.string(), nullable=False),
        pa.field("sender_domain", pa.string(), nullable=False),
        pa.field("date", pa.timestamp("us", tz="UTC")),
        pa.field("date_utcoffset_min", pa.int16()),
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("html_text", pa.large_string(), nullable=False),
        pa.field("urls", pa.list_(pa.string()), nullable=False),
        pa.field("n_parts", pa.int32(), nullable=False),
        pa.field("n_text_parts", pa.int32(), nullable=False),
        pa.field("n_html_parts", pa.int32(), nullable=False),
        pa.field("n_attachments", pa.int32(), nullable=False),
        pa.field("n_html_tags", pa.int32(), nullable=False),
    ],
    metadata={"spam_platform.schema": "emails-v1"},
)


def split_for(sha256_hex: str) -> Split:
    """Deterministic split from the content hash (70 / 15 / 15)."""
    bucket = int(sha256_hex[:8], 16) / 0x1_0000_0000
    if bucket < SPLIT_FRACTIONS["train"]:
        return "train"
    if bucket < SPLIT_FRACTIONS["train"] + SPLIT_FRACTIONS["validation"]:
        return "validation"
    return "test"


# --------------------------------------------------------------------------- record <-> row
def record_to_row(record: EmailRecord) -> dict[str, Any]:
    offset = None
    if record.date is not None:
        delta = record.date.utcoffset()
        offset = int(delta.total_seconds() // 60) if delta is not None else 0
    return {
        "subject": record.subject,
        "sender": record.sender,
        "sender_name": record.sender_name,
        "sender_address": record.sender_address,
        "sender_domain": record.sender_domain,
        "date": record.date.astimezone(UTC) if record.date is not None else None,
        "date_utcoffset_min": offset,
        "text": record.text,
        "html_text": record.html_text,
        "urls": list(record.urls),
        "n_parts": record.n_parts,
        "n_text_parts": record.n_text_parts,
        "n_html_parts": record.n_html_parts,
        "n_attachments": record.n_attachments,
        "n_html_tags": record.n_html_tags,
    }


def record_from_row(row: dict[str, Any]) -> EmailRecord:
    date = row["date"]
    if date is not None:
        if date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
        tz = timezone(timedelta(minutes=row["date_utcoffset_min"] or 0))
        date = date.astimezone(tz)
    return EmailRecord(
        email_id=row["id"],
        subject=row["subject"],
        sender=row["sender"],
        sender_name=row["sender_name"],
        sender_address=row["sender_address"],
        sender_domain=row["sender_domain"],
        date=date,
        text=row["text"],
        html_text=row["html_text"],
        urls=tuple(row["urls"]),
        n_parts=row["n_parts"],
        n_text_parts=row["n_text_parts"],
        n_html_parts=row["n_html_parts"],
        n_attachments=row["n_attachments"],
        n_html_tags=row["n_html_tags"],
    )


# --------------------------------------------------------------------------- manifest
class SourceCounts(BaseModel):
    messages: int = 0
    spam: int = 0
    ham: int = 0
    unlabeled: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0


class SplitCounts(BaseModel):
    messages: int = 0
    spam: int = 0
    ham: int = 0


class FileNote(BaseModel):
    source: str
    member: str
    reason: str


class Manifest(BaseModel):
    kind: Literal["spam-platform/dataset-manifest"] = "spam-platform/dataset-manifest"
    schema_version: Literal[1] = 1
    created_at: datetime
    code_version: str = __version__
    source: str
    dataset_file: str = DATASET_FILE
    dataset_sha256: str
    fingerprint: str
    """SHA-256 over the sorted message hashes: equal for equal content, whatever the order."""
    totals: SourceCounts
    spam_rate: float
    by_source: dict[str, SourceCounts]
    splits: dict[str, SplitCounts]
    skipped: list[FileNote] = Field(default_factory=list)
    failed: list[FileNote] = Field(default_factory=list)
    duplicates: list[FileNote] = Field(default_factory=list)
    checksums: dict[str, str] = Field(default_factory=dict)
    """SHA-256 of each local archive read (and of the Parquet file, under its name)."""
    seconds: float


def load_manifest(directory: str | Path) -> Manifest:
    path = Path(directory) / MANIFEST_FILE
    if not path.is_file():
        raise SourceError(f"{directory}: not an ingested dataset (no {MANIFEST_FILE})")
    return Manifest.model_validate_json(path.read_text())


# --------------------------------------------------------------------------- ingest
ProgressFn = Callable[[str, int, int | None], None]


def _parse_items(
    items: Iterable[Item],
) -> Iterator[tuple[Item, str | None, EmailRecord | None, str | None]]:
    """(item, sha256, record, error) for each item; records only for new messages."""
    seen: set[str] = set()
    for item in items:
        if isinstance(item, Skipped):
            yield item, None, None, None
            continue
        digest = hashlib.sha256(item.data).hexdigest()
        if digest in seen:
            yield item, digest, None, "duplicate"
            continue
        seen.add(digest)
        try:
            record = parse_raw(item.data, email_id=digest[:16])
        except Exception as exc:
            yield item, digest, None, f"{type(exc).__name__}: {exc}"
            continue
        yield item, digest, record, None


def ingest(
    source: str | Path,
    out_dir: str | Path,
    *,
    label: Label | None = None,
    cache_dir: str | Path | None = None,
    checksums: str | None = None,
    progress: ProgressFn | None = None,
    on_message: Callable[[], None] | None = None,
) -> Manifest:
    """Read ``source`` and write ``out_dir/emails.parquet`` + ``out_dir/manifest.json``."""
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp_parquet = out / (DATASET_FILE + ".tmp")
    by_source: dict[str, SourceCounts] = defaultdict(SourceCounts)
    splits = {s: SplitCounts() for s in SPLITS}
    skipped: list[FileNote] = []
    failed: list[FileNote] = []
    duplicates: list[FileNote] = []
    hashes: list[str] = []
    buffer: dict[str, list[Any]] = defaultdict(list)

    items = iter_source(
        source, label=label, cache_dir=cache_dir, checksums=checksums, progress=progress
    )
    with pq.ParquetWriter(tmp_parquet, EMAIL_SCHEMA, compression="zstd") as writer:

        def flush() -> None:
            if buffer:
                writer.write_table(pa.Table.from_pydict(dict(buffer), schema=EMAIL_SCHEMA))
                buffer.clear()

        for item, digest, record, error in _parse_items(items):
            counts = by_source[item.source]
            if isinstance(item, Skipped):
                counts.skipped += 1
                skipped.append(FileNote(source=item.source, member=item.member, reason=item.reason))
                continue
            assert isinstance(item, RawMessage) and digest is not None
            if error == "duplicate":
                counts.duplicates += 1
                duplicates.append(
                    FileNote(
                        source=item.source,
                        member=item.member,
                        reason=f"same content as {digest[:16]}",
                    )
                )
                continue
            if record is None:
                counts.failed += 1
                failed.append(
                    FileNote(source=item.source, member=item.member, reason=error or "unknown")
                )
                continue
            split = split_for(digest)
            counts.messages += 1
            splits[split].messages += 1
            if item.label is None:
                counts.unlabeled += 1
            else:
                setattr(counts, item.label, getattr(counts, item.label) + 1)
                setattr(splits[split], item.label, getattr(splits[split], item.label) + 1)
            hashes.append(digest)
            row = record_to_row(record)
            row.update(
                id=record.email_id,
                sha256=digest,
                source=item.source,
                member=item.member,
                label=item.label,
                split=split,
                size_bytes=len(item.data),
            )
            for key, value in row.items():
                buffer[key].append(value)
            if len(buffer["id"]) >= _ROW_GROUP:
                flush()
            if on_message is not None:
                on_message()
        flush()

    if not hashes:
        tmp_parquet.unlink(missing_ok=True)
        raise SourceError(
            f"{source}: no e-mail messages found "
            f"({len(skipped)} files skipped, {len(failed)} failed)"
        )
    tmp_parquet.replace(out / DATASET_FILE)
    totals = SourceCounts()
    for counts in by_source.values():
        for field in SourceCounts.model_fields:
            setattr(totals, field, getattr(totals, field) + getattr(counts, field))
    checksums_seen: dict[str, str] = {}
    src_path = Path(str(source))
    if not str(source).startswith(("http://", "https://")) and src_path.exists():
        archives = (
            [src_path]
            if src_path.is_file()
            else sorted(p for p in src_path.iterdir() if p.is_file() and is_archive(p.name))
        )
        checksums_seen = {p.name: sha256_file(p) for p in archives}
    checksums_seen[DATASET_FILE] = sha256_file(out / DATASET_FILE)
    labeled = totals.spam + totals.ham
    manifest = Manifest(
        created_at=datetime.now(UTC),
        source=str(source),
        dataset_sha256=checksums_seen[DATASET_FILE],
        fingerprint=hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest(),
        totals=totals,
        spam_rate=totals.spam / labeled if labeled else 0.0,
        by_source=dict(sorted(by_source.items())),
        splits=splits,
        skipped=skipped,
        failed=failed,
        duplicates=duplicates,
        checksums=checksums_seen,
        seconds=round(time.perf_counter() - started, 3),
    )
    (out / MANIFEST_FILE).write_text(json.dumps(manifest.model_dump(mode="json"), indent=1) + "\n")
    return manifest


# --------------------------------------------------------------------------- reading back
def read_table(
    directory: str | Path, *, split: Split | None = None, columns: list[str] | None = None
) -> pa.Table:
    """The dataset (optionally one split), validated against ``EMAIL_SCHEMA``."""
    path = Path(directory) / DATASET_FILE
    if not path.is_file():
        raise SourceError(f"{directory}: not an ingested dataset (no {DATASET_FILE})")
    filters = [("split", "=", split)] if split else None
    table = pq.read_table(path, columns=columns, filters=filters)
    expected = (
        EMAIL_SCHEMA if columns is None else pa.schema([EMAIL_SCHEMA.field(c) for c in columns])
    )
    if not _same_columns(table.schema, expected):
        raise SourceError(f"{path}: schema differs from emails-v1; re-run ingest")
    # Parquet keeps a dictionary column's values, not its index width: some pyarrow versions
    # read int8 indices back as int32. Cast to the declared schema so readers see one type.
    return table.cast(expected)


def _logical(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _same_columns(actual: pa.Schema, expected: pa.Schema) -> bool:
    """Same names, order and value types (dictionary index widths may differ)."""
    return actual.names == expected.names and all(
        _logical(a.type).equals(_logical(e.type)) for a, e in zip(actual, expected, strict=True)
    )


def read_records(
    directory: str | Path, *, split: Split | None = None
) -> tuple[list[EmailRecord], list[str | None]]:
    """Records and their labels (``'spam'``/``'ham'``/``None``) of a dataset or split."""
    table = read_table(directory, split=split)
    rows = table.to_pylist()
    return [record_from_row(r) for r in rows], [r["label"] for r in rows]
