"""Feedback labels as training data: the feedback log's labeled e-mails next to the corpus.

**Which e-mails, which label** (:func:`read_feedback`, the one reader: ``promote``'s recent
feedback slice reads through it too). The gateway's feedback log (``spam_core.feedback``) has a
row per answered report. Only labelling reports count (``feedback.LABELLING``: ``applied`` and
``replaced``; ``duplicate``, ``capped`` and ``no_sender`` rows are recorded only and add
nothing, as they add nothing to the online totals). Rows are grouped by ``email_key`` (the
e-mail's identity), and :data:`LABEL_RULE` decides:

* each reporter's current label of an e-mail is the label of their latest labelling report
  (a ``replaced`` row supersedes the reporter's earlier one);
* the e-mail's label is the **majority of its reporters' current labels**; a tie goes to the
  label of the latest labelling report. One reporter (a mistaken user, or a poisoner) cannot
  flip a label two others agree on; with one reporter it is simply their latest label.

An e-mail counts only when a report carried (or named) its content (``subject`` / ``body`` /
``from_header`` / ``date_header`` or ``raw``): the content of its latest labelling report with
content is parsed as the gateway parsed it (``spam_core.scoring.record_from_input``); content
that does not parse is counted and left out. Its **report time** is its latest labelling report.

**The training dataset** (:func:`assemble_dataset`): an ingested dataset directory (same
``emails-v1`` schema, so every stage and pipeline step reads it unchanged) holding the corpus
rows exactly as ingested — the same ids, labels and splits, in the same order, so the **test
split is the corpus test split** and versions stay comparable — and after them one row per
feedback e-mail:

* ``source`` ``feedback`` (corpus rows keep their archive's name: :func:`row_source` maps a row
  to ``corpus`` / ``feedback``), ``id`` ``feedback-<email_key[:16]>``, ``sha256`` the
  ``email_key``, ``member`` the reported ``email_id``;
* **de-duplicated against the corpus** by ``email_key``: a feedback e-mail that is a corpus
  e-mail is not added again, and the **corpus label stays** (curated labels beat user reports;
  a disagreement is counted as ``conflicts_with_corpus`` in the summary, the corpus row is not
  touched whatever its split);
* split ``train`` / ``validation`` by a hash of the ``email_key``, in the corpus's 70 : 15
  ratio; **never** ``test``;
* the **recent feedback slice**, split ``recent`` (:data:`RECENT_SPLIT`): the e-mails whose
  report time lies within ``recent_days`` of the newest labelling report in the log (the log's
  own clock, so a given log always gives the same slice). They are held out of training
  (features, search, final fit and threshold read ``train`` / ``validation`` only) and scored
  after training (:func:`evaluate_recent`): how the model does on the latest mail users
  reported. ``recent_days`` 0: no held-out slice, every feedback e-mail trains.

``feedback.parquet`` (:data:`FEEDBACK_FILE`) next to ``emails.parquet`` lists the feedback rows
(id, ``email_key``, label, votes, reporters, report time, split); ``feedback.json``
(:data:`SUMMARY_FILE`) the counts and the rules. Without a feedback e-mail nothing is assembled:
training reads the corpus dataset itself.

**Reputation of feedback rows, point in time** (``spam_trainer.reputation``): the history stays
the corpus ``train`` split. Feedback labels are not put into it: the online totals already hold
them (the gateway writes each accepted report; ``spam-gateway materialize`` sets a sender to the
offline history *plus* the log's deltas, so a history with the feedback labels would count them
twice online). A feedback row reads that history at its **e-mail's send time** (its ``Date``;
without one, its report time): when the e-mail was scored, not when it was reported. As no
feedback label is in the history, no row can see its own label or one reported later; and the
corpus rows' event times are computed from the corpus alone, exactly as without feedback.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from spam_core.message.record import EmailRecord

FEEDBACK_SOURCE = "feedback"
"""``source`` of the feedback rows of an assembled dataset (corpus rows keep their archive's)."""
RECENT_SPLIT = "recent"
"""Split of the recent feedback slice: held out of training, scored after it."""
FEEDBACK_SPLITS = ("train", "validation", RECENT_SPLIT)
FEEDBACK_FILE = "feedback.parquet"
SUMMARY_FILE = "feedback.json"
DATASET_DIR = "dataset"
"""The assembled dataset's directory inside a training's working directory."""
LABEL_RULE = (
    "labelling reports (applied, replaced) only; per reporter the latest; per e-mail the "
    "majority of its reporters, a tie to the latest report"
)
CORPUS_RULE = "an e-mail in the corpus (same email_key) keeps its corpus row and label"
VALIDATION_SHARE = 0.15 / 0.85
"""Feedback e-mails in ``validation`` (the corpus's train : validation ratio, 70 : 15)."""
DEFAULT_RECENT_DAYS = 7.0
LOG_COLUMNS = [
    "timestamp",
    "reporter",
    "email_key",
    "email_id",
    "label",
    "status",
    "subject",
    "body",
    "from_header",
    "date_header",
    "raw",
]


class FeedbackDataError(ValueError):
    """The feedback log cannot be read, or the dataset cannot take its rows."""


@dataclass
class FeedbackEmail:
    """One feedback-labeled e-mail with its content."""

    key: str
    """``email_key`` (the log's identity of the e-mail)."""
    record: EmailRecord
    label: str
    reported_at: datetime
    """Its latest labelling report (UTC)."""
    reported_id: str
    """The ``email_id`` the report carried."""
    spam_votes: int
    ham_votes: int
    size_bytes: int

    @property
    def reporters(self) -> int:
        return self.spam_votes + self.ham_votes


@dataclass
class LogCounts:
    """What a read of the feedback log found."""

    rows: int = 0
    labelling: int = 0
    emails: int = 0
    """Distinct e-mails with a labelling report."""
    without_content: int = 0
    unparseable: int = 0
    ties: int = 0
    """E-mails whose reporters split evenly (the latest report decided)."""
    disagreements: int = 0
    """E-mails whose reporters disagree (majority or tie)."""


def decide_label(reports: list[dict[str, Any]]) -> tuple[str, int, int, bool]:
    """(label, spam votes, ham votes, tie) of one e-mail's labelling reports (sorted by time):
    :data:`LABEL_RULE`."""
    current: dict[str, str] = {}
    for row in reports:
        current[row["reporter"] or ""] = row["label"]
    votes = Counter(current.values())
    spam, ham = votes["spam"], votes["ham"]
    if spam == ham:
        return reports[-1]["label"], spam, ham, True
    return ("spam" if spam > ham else "ham"), spam, ham, False


def _has_content(row: dict[str, Any]) -> bool:
    return bool(row["raw"] or row["body"] or row["subject"])


def read_feedback(
    url: str, *, since: datetime | None = None, require: bool = False
) -> tuple[list[FeedbackEmail], LogCounts]:
    """The feedback-labeled e-mails with content in the log at ``url`` (module doc), oldest
    report first; ``since``: only those whose report time is after it (their labels still come
    from every report). ``require``: a log location that does not exist is an error (else it is
    an empty log)."""
    from spam_core import feedback
    from spam_core.errors import InvalidEmailError
    from spam_core.scoring import record_from_input
    from spam_core.storage import open_location

    try:
        location = open_location(url)
        if require and not location.fs.exists(location.root):
            raise FeedbackDataError(f"feedback log {url}: no such location")
        table = feedback.read_log(location.fs, location.root, columns=LOG_COLUMNS)
    except FeedbackDataError:
        raise
    except (OSError, ValueError) as exc:
        raise FeedbackDataError(f"feedback log {url}: {type(exc).__name__}: {exc}") from exc
    counts = LogCounts(rows=table.num_rows)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(table.to_pylist(), key=lambda r: r["timestamp"]):
        if row["status"] not in feedback.LABELLING or row["label"] not in feedback.LABELS:
            continue
        counts.labelling += 1
        by_key.setdefault(row["email_key"] or row["email_id"], []).append(row)
    counts.emails = len(by_key)
    out = []
    for key, reports in by_key.items():
        label, spam, ham, tie = decide_label(reports)
        counts.ties += tie
        counts.disagreements += bool(spam and ham)
        reported_at = reports[-1]["timestamp"].astimezone(UTC)
        if since is not None and reported_at <= since:
            continue
        content = [r for r in reports if _has_content(r)]
        if not content:
            counts.without_content += 1
            continue
        row = content[-1]
        try:
            record = record_from_input(
                row["email_id"] or key,
                raw=row["raw"],
                subject=row["subject"],
                body=row["body"],
                sender=row["from_header"],
                date=row["date_header"],
            )
        except InvalidEmailError:
            counts.unparseable += 1
            continue
        size = len((row["raw"] or row["body"] or row["subject"] or "").encode("utf-8", "replace"))
        out.append(
            FeedbackEmail(key, record, label, reported_at, row["email_id"] or "", spam, ham, size)
        )
    out.sort(key=lambda e: (e.reported_at, e.key))
    return out, counts


# --------------------------------------------------------------------------- the dataset
@dataclass
class FeedbackSummary:
    """``feedback.json``: where the feedback came from, the rules, what became of it."""

    feedback_log: str
    label_rule: str = LABEL_RULE
    corpus_rule: str = CORPUS_RULE
    recent_days: float = DEFAULT_RECENT_DAYS
    recent_since: str | None = None
    """Report times after this (ISO, UTC) are the recent slice (None: no held-out slice)."""
    newest_report: str | None = None
    log: dict[str, int] = field(default_factory=dict)
    in_corpus: int = 0
    conflicts_with_corpus: int = 0
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    """split -> {"spam": n, "ham": n} of the added feedback rows."""
    dataset_dir: str | None = None
    """The assembled dataset (None: no feedback row, the corpus dataset is used as is)."""
    corpus_dir: str = ""
    corpus_fingerprint: str = ""
    """The corpus dataset's (the reputation history's own dataset)."""

    def added(self, split: str | None = None) -> int:
        return sum(sum(v.values()) for s, v in self.rows.items() if split is None or s == split)


def split_of(key: str) -> str:
    """``train`` or ``validation`` from the ``email_key`` (fixed, like the corpus split)."""
    import hashlib

    digest = hashlib.sha256(f"feedback-split:{key}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") / 2**64
    return "validation" if bucket < VALIDATION_SHARE else "train"


def row_source(source: str) -> str:
    """``corpus`` or ``feedback`` for a dataset row's ``source``."""
    return "feedback" if source == FEEDBACK_SOURCE else "corpus"


def assemble_dataset(
    corpus_dir: Path,
    feedback_url: str,
    out_dir: Path,
    *,
    recent_days: float = DEFAULT_RECENT_DAYS,
    require: bool = False,
) -> FeedbackSummary:
    """The corpus dataset plus the feedback e-mails (module doc) -> ``out_dir``; returns the
    summary (also written as ``out_dir/feedback.json``). Nothing is written when the log has
    no feedback e-mail to add (``dataset_dir`` None)."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from spam_core.feedback import email_key
    from spam_core.ingest import load_manifest
    from spam_core.ingest.dataset import (
        DATASET_FILE,
        EMAIL_SCHEMA,
        MANIFEST_FILE,
        SplitCounts,
        read_table,
        record_from_row,
        record_to_row,
    )
    from spam_core.ingest.sources import sha256_file

    if recent_days < 0:
        raise FeedbackDataError(f"recent_days must be >= 0, not {recent_days}")
    manifest = load_manifest(corpus_dir)
    corpus = read_table(corpus_dir)
    if FEEDBACK_SOURCE in set(corpus.column("source").to_pylist()):
        raise FeedbackDataError(
            f"{corpus_dir}: has rows with source {FEEDBACK_SOURCE!r} already (an assembled "
            "dataset?): pass the corpus dataset"
        )
    corpus_labels: dict[str, str | None] = {}
    for row in corpus.to_pylist():
        corpus_labels[email_key(record_from_row(row))] = row["label"]

    emails, counts = read_feedback(feedback_url, require=require)
    summary = FeedbackSummary(
        feedback_log=feedback_url,
        recent_days=recent_days,
        log=asdict(counts),
        corpus_dir=str(corpus_dir),
        corpus_fingerprint=manifest.fingerprint,
    )
    fresh = []
    for e in emails:
        known = e.key if e.key in corpus_labels else email_key(e.record)
        if known in corpus_labels:
            summary.in_corpus += 1
            summary.conflicts_with_corpus += corpus_labels[known] != e.label
        else:
            fresh.append(e)
    cutoff = None
    if emails:
        newest = max(e.reported_at for e in emails)
        summary.newest_report = newest.isoformat()
        if recent_days > 0:
            cutoff = newest - timedelta(days=recent_days)
            summary.recent_since = cutoff.isoformat()
    if not fresh:
        return summary

    rows: dict[str, list[Any]] = {name: [] for name in EMAIL_SCHEMA.names}
    sidecar: dict[str, list[Any]] = {
        k: []
        for k in ("id", "email_key", "label", "split", "reported_at", "spam_votes", "ham_votes")
    }
    for e in fresh:
        split = RECENT_SPLIT if cutoff is not None and e.reported_at > cutoff else split_of(e.key)
        row = record_to_row(e.record) | {
            "id": f"feedback-{e.key[:16]}",
            "sha256": e.key,
            "source": FEEDBACK_SOURCE,
            "member": e.reported_id,
            "label": e.label,
            "split": split,
            "size_bytes": e.size_bytes,
        }
        for name in EMAIL_SCHEMA.names:
            rows[name].append(row[name])
        for k, v in (
            ("id", row["id"]),
            ("email_key", e.key),
            ("label", e.label),
            ("split", split),
            ("reported_at", e.reported_at),
            ("spam_votes", e.spam_votes),
            ("ham_votes", e.ham_votes),
        ):
            sidecar[k].append(v)
        summary.rows.setdefault(split, {"spam": 0, "ham": 0})[e.label] += 1

    out_dir.mkdir(parents=True, exist_ok=True)
    table = pa.concat_tables(
        [corpus, pa.Table.from_pydict(rows, schema=EMAIL_SCHEMA)]
    ).combine_chunks()
    pq.write_table(table, out_dir / DATASET_FILE, compression="zstd")
    pq.write_table(
        pa.table(sidecar).cast(
            pa.schema(
                [
                    ("id", pa.string()),
                    ("email_key", pa.string()),
                    ("label", pa.string()),
                    ("split", pa.string()),
                    ("reported_at", pa.timestamp("us", tz="UTC")),
                    ("spam_votes", pa.int32()),
                    ("ham_votes", pa.int32()),
                ]
            )
        ),
        out_dir / FEEDBACK_FILE,
    )
    splits = {k: v.model_copy() for k, v in manifest.splits.items()}
    by_source = dict(manifest.by_source)
    totals = manifest.totals.model_copy()
    fb_counts = type(totals)()
    for split, labels in summary.rows.items():
        target = splits.setdefault(split, SplitCounts())
        for label, n in labels.items():
            target.messages += n
            setattr(target, label, getattr(target, label) + n)
            fb_counts.messages += n
            setattr(fb_counts, label, getattr(fb_counts, label) + n)
            totals.messages += n
            setattr(totals, label, getattr(totals, label) + n)
    by_source[FEEDBACK_SOURCE] = fb_counts
    digest = sha256_file(out_dir / DATASET_FILE)
    assembled = manifest.model_copy(
        update={
            "created_at": datetime.now(UTC),
            "source": f"{manifest.source} + feedback {feedback_url}",
            "dataset_sha256": digest,
            "fingerprint": hashlib.sha256(
                f"{manifest.fingerprint}\n".encode()
                + "\n".join(sorted(e.key + e.label for e in fresh)).encode()
            ).hexdigest(),
            "totals": totals,
            "spam_rate": totals.spam / max(1, totals.spam + totals.ham),
            "by_source": by_source,
            "splits": splits,
            "checksums": {**manifest.checksums, DATASET_FILE: digest},
        }
    )
    (out_dir / MANIFEST_FILE).write_text(
        json.dumps(assembled.model_dump(mode="json"), indent=1) + "\n"
    )
    summary.dataset_dir = str(out_dir)
    (out_dir / SUMMARY_FILE).write_text(json.dumps(asdict(summary), indent=1) + "\n")
    return summary


def feedback_rows(dataset_dir: Path) -> dict[str, datetime]:
    """The feedback rows of an assembled dataset: id -> report time (empty for a corpus
    dataset)."""
    import pyarrow.parquet as pq

    path = Path(dataset_dir) / FEEDBACK_FILE
    if not path.is_file():
        return {}
    table = pq.read_table(path, columns=["id", "reported_at"])
    return dict(zip(table["id"].to_pylist(), table["reported_at"].to_pylist(), strict=True))


def load_summary(dataset_dir: Path) -> dict[str, Any] | None:
    """``feedback.json`` of an assembled dataset (None for a corpus dataset)."""
    path = Path(dataset_dir) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def corpus_fingerprint(dataset_dir: Path) -> str | None:
    """The corpus dataset's fingerprint of an assembled dataset (None for a corpus dataset)."""
    summary = load_summary(dataset_dir)
    return summary["corpus_fingerprint"] if summary else None


# --------------------------------------------------------------------------- the stage
@dataclass
class FeedbackOptions:
    """Where the feedback log is and how much of it is held out."""

    url: str
    recent_days: float = DEFAULT_RECENT_DAYS
    require: bool = False
    """The log location must exist (an explicitly named log; the default one may be absent)."""


def feedback_stage(
    corpus_dir: Path, work_dir: Path, opts: FeedbackOptions, log=lambda _: None
) -> FeedbackSummary:
    """:func:`assemble_dataset` into ``<work_dir>/dataset``, with a one-line account."""
    summary = assemble_dataset(
        corpus_dir,
        opts.url,
        work_dir / DATASET_DIR,
        recent_days=opts.recent_days,
        require=opts.require,
    )
    log(describe(summary))
    return summary


def describe(summary: FeedbackSummary) -> str:
    """One line: what the feedback log gave the training."""
    if summary.log.get("emails", 0) == 0:
        return f"feedback: no labeled e-mail in {summary.feedback_log}"
    rows = {s: summary.added(s) for s in FEEDBACK_SPLITS}
    recent = (
        f"{rows[RECENT_SPLIT]} reported since {summary.recent_since[:19]} held out (recent slice)"
        if summary.recent_since
        else "no recent slice held out"
    )
    return (
        f"feedback: {summary.added()} e-mails added (train {rows['train']}, validation "
        f"{rows['validation']}), {recent}; {summary.in_corpus} already in the corpus "
        f"({summary.conflicts_with_corpus} with another label, the corpus label kept); "
        f"{summary.log.get('without_content', 0)} without content, "
        f"{summary.log.get('unparseable', 0)} unparseable; {summary.log.get('disagreements', 0)} "
        f"with disagreeing reporters"
    )


def log_feedback(dataset_dir: Path) -> None:
    """Into the active MLflow run, for an assembled dataset: params (log, rules, window) and
    metrics ``feedback_rows_<split>``, ``feedback_in_corpus``, ... and ``dataset/feedback.json``."""
    import mlflow

    summary = load_summary(dataset_dir)
    if summary is None:
        return
    mlflow.log_params(
        {
            "feedback_log": summary["feedback_log"][:500],
            "feedback_label_rule": summary["label_rule"],
            "feedback_corpus_rule": summary["corpus_rule"],
            "feedback_recent_days": summary["recent_days"],
            "feedback_recent_since": summary["recent_since"] or "",
            TRAINED_UNTIL_PARAM: summary["recent_since"] or summary["newest_report"] or "",
        }
    )
    rows = summary["rows"]
    mlflow.log_metrics(
        {
            **{f"feedback_rows_{s}": float(sum(rows.get(s, {}).values())) for s in FEEDBACK_SPLITS},
            "feedback_in_corpus": float(summary["in_corpus"]),
            "feedback_conflicts_with_corpus": float(summary["conflicts_with_corpus"]),
            **{f"feedback_log_{k}": float(v) for k, v in summary["log"].items()},
        }
    )
    mlflow.log_artifact(str(Path(dataset_dir) / SUMMARY_FILE), artifact_path="dataset")


TRAINED_UNTIL_PARAM = "feedback_trained_until"
"""MLflow run parameter: the newest report time of the feedback a version trained on (ISO,
UTC): the recent slice's start, else the log's newest report."""


def unseen_since(run_params: dict[str, str], since: datetime | None) -> datetime | None:
    """The start of the feedback a version did not train on: the later of ``since`` and its
    run's :data:`TRAINED_UNTIL_PARAM` (``promote`` scores the candidate on feedback reported
    after it, never on its own training rows)."""
    value = run_params.get(TRAINED_UNTIL_PARAM)
    if not value:
        return since
    until = datetime.fromisoformat(value).astimezone(UTC)
    return until if since is None else max(since, until)


# --------------------------------------------------------------------------- evaluation
RECENT_FORM = "reported"
"""The recent slice is scored in the form its reports carried (raw or fields)."""


def evaluate_recent(
    dataset_dir: Path,
    score,
    threshold: float,
    extractor,
    reputation,
) -> dict[str, dict[str, dict[str, float]]] | None:
    """The recent feedback slice at the served threshold: ``{"reported": {"all": metrics,
    "cold": metrics}}`` (``all``: the point-in-time reputation; ``cold``: every sender
    unknown), in ``spam_trainer.slices``' layout and metrics. None when the dataset has no
    recent slice."""
    from spam_core.features import NoHistory
    from spam_core.ingest import read_records
    from spam_trainer.slices import metrics_at

    if not feedback_rows(dataset_dir):
        return None
    records, labels = read_records(dataset_dir, split=RECENT_SPLIT)  # type: ignore[arg-type]
    if not records:
        return None
    y = np.array([lab == "spam" for lab in labels], dtype=np.float32)
    return {
        RECENT_FORM: {
            "all": metrics_at(
                y, score(extractor.transform_records(records, reputation)), threshold
            ),
            "cold": metrics_at(
                y, score(extractor.transform_records(records, NoHistory())), threshold
            ),
        }
    }
