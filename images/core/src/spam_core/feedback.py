"""User feedback ("this is spam" / "not spam"): the e-mail's identity and the feedback log.

**Identity of an e-mail** (:func:`email_key`): the SHA-256 of what the features read of it —
the sender address, the subject, the send date and the body text of its normalized
``EmailRecord`` (``spam_core.message``). The caller's ``email_id`` is not part of it, so the
same message reported under two ids is one e-mail, and its raw RFC 822 form and its API fields
(which give the same record) are one e-mail too. Two messages that differ only beyond what the
record keeps (text past ``MAX_TEXT_CHARS``, headers the features do not read) are one e-mail.

**The feedback log**: one Parquet row per report the gateway answered, under Hive-style
partitions ``date=YYYY-MM-DD/hour=HH/part-<uuid>.parquet`` (UTC, report time), written like
the inference log (buffered, spooled to local disk when the store is down, retried). Every
report is a row, whatever became of it (``status``): the log is the complete, timestamped
history of the labels — what a rebuild of the online totals (and training) reads. The row
carries the e-mail as it was reported (its fields or ``raw``), or as the gateway held it for a
report that named a logged prediction, so feedback-labeled e-mails can become training data.

Columns: ``timestamp`` (UTC, µs), ``correlation_id``, ``reporter`` (API key name),
``email_key``, ``email_id``, ``label``, ``previous_label`` (the reporter's earlier label of the
same e-mail, replaced by this one), ``status`` (see :data:`STATUSES`), ``sender`` and
``sender_domain`` (the reputation keys), ``messages_delta`` / ``spam_delta`` (what this report
added to the sender's and the domain's totals), ``reference`` (``content``: the report carried
the e-mail; ``email_id``: it named a logged prediction), and the e-mail: ``subject``, ``body``,
``from_header``, ``date_header``, ``raw``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from spam_core.inference_log import (  # noqa: F401  (new_file_name: the logger reads it here)
    RecordBuffer,
    encode,
    group_by_hour,
    hour_partition,
    new_file_name,
    timestamp_column,
)
from spam_core.message.record import EmailRecord

if TYPE_CHECKING:
    import fsspec

SCHEMA_VERSION = "feedback-log-v1"
LABELS = ("spam", "ham")
Label = Literal["spam", "ham"]

Status = Literal["applied", "replaced", "duplicate", "capped", "no_sender"]
STATUSES: dict[str, str] = {
    "applied": "a first report of this e-mail by this reporter: the totals moved",
    "replaced": "the reporter's earlier, different label of this e-mail was replaced",
    "duplicate": "the reporter gave this e-mail the same label before: nothing changed",
    "capped": "over the reporter's daily bound for this sender or domain: recorded only",
    "no_sender": "the e-mail has no sender address: recorded only",
}
"""What became of a report; only ``applied`` and ``replaced`` move the totals."""
LABELLING: tuple[Status, ...] = ("applied", "replaced")
"""The statuses of reports that set a label (a reporter's first label of an e-mail, or a changed
one): new information. ``duplicate``, ``capped`` and ``no_sender`` rows are recorded only."""

STRING_COLUMNS = (
    "correlation_id",
    "reporter",
    "email_key",
    "email_id",
    "label",
    "previous_label",
    "status",
    "sender",
    "sender_domain",
    "reference",
    "subject",
    "body",
    "from_header",
    "date_header",
    "raw",
)
INT_COLUMNS = ("messages_delta", "spam_delta")

Record = dict[str, Any]
"""``timestamp`` (epoch seconds) and the columns above."""


def email_key(record: EmailRecord) -> str:
    """The e-mail's identity (hex SHA-256): sender address, subject, date, body text."""
    date = record.date.astimezone(UTC).isoformat() if record.date is not None else ""
    digest = hashlib.sha256()
    for part in (record.sender_address, record.subject, date, record.body):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def deltas(label: Label, previous: Label | None) -> tuple[int, int]:
    """(messages, spam) a report adds to the totals, replacing ``previous`` (or nothing)."""
    spam = int(label == "spam")
    if previous is None:
        return 1, spam
    return 0, spam - int(previous == "spam")


def partition_of(record: Record) -> str:
    return hour_partition(record["timestamp"])


group_by_partition = group_by_hour


def to_table(records: Sequence[Record]) -> pa.Table:
    columns: dict[str, pa.Array] = {"timestamp": timestamp_column(records)}
    for name in STRING_COLUMNS:
        columns[name] = pa.array([r.get(name) for r in records], pa.string())
    for name in INT_COLUMNS:
        columns[name] = pa.array([int(r.get(name) or 0) for r in records], pa.int64())
    return pa.table(columns).replace_schema_metadata({"spam_platform.schema": SCHEMA_VERSION})


def to_parquet(records: Sequence[Record]) -> bytes:
    return encode(to_table(records))


def new_buffer() -> RecordBuffer:
    """The logger's buffer: records kept as they come (feedback is a few reports a second)."""
    return RecordBuffer(group_by_partition, to_table)


def warm_up() -> None:
    """Encode one synthetic record (pyarrow's first conversion is slow)."""
    to_parquet([{"timestamp": 0.0, "label": "ham", "status": "applied"}])


def read_log(
    fs: fsspec.AbstractFileSystem,
    root: str,
    *,
    since: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The feedback log's rows, those reported after ``since`` (UTC) when given; an empty table
    when there is no log yet (``spam_core.storage.read_dated``: only the days from ``since`` on
    are read)."""
    from spam_core.storage import read_dated

    return read_dated(fs, root, to_table([]), since=since, columns=columns)
