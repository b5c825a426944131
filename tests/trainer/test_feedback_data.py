"""Feedback labels into training (``spam_trainer.feedback_data``): a feedback log written with
the gateway's writer functions (``spam_core.feedback``: its schema, partitions and file names)
in a temporary directory, assembled with the ingested shared corpus; the label rule, the
de-duplication against the corpus, the untouched test split, the held-out recent slice, the
point-in-time reputation of feedback rows, and (slow) one real training run that trains on the
feedback rows and reports the recent slice."""

from __future__ import annotations

import dataclasses
import json
import tarfile
import time
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from spam_core import feedback
from spam_core.ingest import read_records, read_table
from spam_core.ingest.dataset import record_from_row
from spam_core.message.record import EmailRecord
from spam_trainer.feedback_data import (
    FEEDBACK_FILE,
    FEEDBACK_SOURCE,
    RECENT_SPLIT,
    FeedbackDataError,
    assemble_dataset,
    read_feedback,
)

DAY = 86400.0
NOW = time.time()
OLD, RECENT = 20, 10
"""Per class: forwarded corpus e-mails reported a month ago, and within the last day."""


def _write_log(root: Path, rows: list[dict]) -> None:
    """Rows as the gateway's feedback log holds them (its schema, partitions, file names)."""
    for partition, group in feedback.group_by_partition(rows).items():
        (root / partition).mkdir(parents=True, exist_ok=True)
        (root / partition / feedback.new_file_name()).write_bytes(feedback.to_parquet(group))


def _report(
    record: EmailRecord,
    label: str,
    status: str,
    ts: float,
    reporter: str = "mailbox",
    raw: str | None = None,
    content: bool = True,
) -> dict:
    """One report as the gateway logs it: the e-mail's fields (or ``raw``) as reported."""
    row = {
        "timestamp": ts,
        "reporter": reporter,
        "email_key": feedback.email_key(record),
        "email_id": record.email_id,
        "label": label,
        "status": status,
        "sender": record.sender_address,
        "sender_domain": record.sender_domain,
        "reference": "content" if content else "email_id",
    }
    if raw is not None:
        row["raw"] = raw
    elif content:
        row |= {
            "subject": record.subject,
            "body": record.body,
            "from_header": record.sender,
            "date_header": format_datetime(record.date) if record.date else None,
        }
    return row


def _forwarded(row: dict) -> EmailRecord:
    """A corpus e-mail with another subject: a new e-mail (another ``email_key``) with the same
    sender and send time."""
    record = record_from_row(row)
    return dataclasses.replace(record, subject=record.subject + " (fwd)", email_id="fw" + row["id"])


def _new(name: str, spammy: bool) -> EmailRecord:
    from spam_core.message import parse_fields

    body = (
        "Win a FREE prize now!!! Click http://win.example/offer to claim your cash reward."
        if spammy
        else "Hi, the minutes of today's meeting are attached; see you on Thursday."
    )
    return parse_fields(
        email_id=name,
        subject=f"{name} report",
        body=body,
        sender=f"{name}@people.example",
        date="Wed, 02 Dec 2026 10:00:00 +0000",
    )


@pytest.fixture(scope="module")
def log(tmp_path_factory, dataset_dir, corpus_dir):
    """A feedback log over the ingested shared corpus and what it holds."""
    return _build_log(dataset_dir, corpus_dir, tmp_path_factory.mktemp("feedback"))


def _build_log(dataset_dir: Path, corpus_dir: Path, tmp: Path) -> dict:
    """A feedback log over a dataset and what it holds (the cases the tests check)."""
    corpus = read_table(dataset_dir).to_pylist()
    pool = [r for r in corpus if r["split"] in ("train", "validation") and r["date"] is not None]
    spam = [r for r in pool if r["label"] == "spam"][: OLD + RECENT]
    ham = [r for r in pool if r["label"] == "ham"][: OLD + RECENT]
    rows, forwarded = [], {}
    for i, r in enumerate(spam + ham):
        record = _forwarded(r)
        recent = i % (OLD + RECENT) >= OLD
        ts = NOW - 3600 + i if recent else NOW - 30 * DAY + i
        rows.append(_report(record, r["label"], "applied", ts))
        forwarded[feedback.email_key(record)] = (r, recent)
    # a corpus test e-mail reported as its raw message with the other label: not added, its
    # corpus row (and label) untouched
    test_row = next(r for r in corpus if r["split"] == "test")
    with tarfile.open(corpus_dir / test_row["source"]) as tar:
        raw = tar.extractfile(test_row["member"]).read().decode("utf-8", "replace")
    flipped = "ham" if test_row["label"] == "spam" else "spam"
    rows.append(_report(record_from_row(test_row), flipped, "applied", NOW - 2 * DAY, raw=raw))
    # a corpus train e-mail reported as fields with its own label: not added either
    train_row = next(r for r in corpus if r["split"] == "train")
    rows.append(_report(record_from_row(train_row), train_row["label"], "applied", NOW - 3 * DAY))
    # the label rule
    x, y, z, w = (_new(n, s) for n, s in (("xa", True), ("yb", False), ("zc", True), ("wd", False)))
    t = NOW - 10 * DAY
    rows += [  # x: majority of three reporters -> spam
        _report(x, "spam", "applied", t, "a"),
        _report(x, "ham", "applied", t + 1, "b"),
        _report(x, "spam", "applied", t + 2, "c"),
        # y: one reporter changed their mind -> their latest label
        _report(y, "spam", "applied", t, "a"),
        _report(y, "ham", "replaced", t + 5, "a"),
        # z: one against one -> the latest report
        _report(z, "spam", "applied", t, "a"),
        _report(z, "ham", "applied", t + 3, "b"),
        # w: reports that set no label (capped, duplicate) do not count
        _report(w, "ham", "applied", t, "a"),
        _report(w, "ham", "duplicate", t + 1, "a"),
        _report(w, "spam", "capped", t + 2, "b"),
        _report(w, "spam", "capped", t + 3, "c"),
    ]
    # a labelling report without the e-mail's content, and one recorded only (no sender)
    rows.append(_report(_new("nocontent", True), "spam", "applied", t, content=False))
    rows.append(_report(_new("nosender", True), "spam", "no_sender", t))
    root = tmp / "feedback-logs"
    _write_log(root, rows)
    return {
        "root": root,
        "forwarded": forwarded,
        "test_row": test_row,
        "train_row": train_row,
        "rule": {"xa": "spam", "yb": "ham", "zc": "ham", "wd": "ham"},
    }


def test_each_email_once_by_the_label_rule(log):
    emails, counts = read_feedback(str(log["root"]))
    by_id = {e.reported_id: e for e in emails}
    for name, label in log["rule"].items():
        assert by_id[name].label == label, name
    assert (by_id["xa"].spam_votes, by_id["xa"].ham_votes) == (2, 1)
    assert (by_id["zc"].spam_votes, by_id["zc"].ham_votes) == (1, 1)
    assert (by_id["yb"].spam_votes, by_id["yb"].ham_votes) == (0, 1)  # one reporter, latest
    assert (by_id["wd"].spam_votes, by_id["wd"].ham_votes) == (0, 1)  # capped: no vote
    assert "nocontent" not in by_id and "nosender" not in by_id
    assert counts.without_content == 1 and counts.ties == 1
    assert counts.disagreements == 2  # x and z
    n = 2 * (OLD + RECENT) + 2 + 4
    assert len(emails) == n and counts.emails == n + 1  # + the one without content
    assert len({e.key for e in emails}) == n
    # since: only e-mails whose latest labelling report is newer (their label from all reports)
    recent, _ = read_feedback(str(log["root"]), since=_utc(NOW - 10 * DAY + 4))
    assert {e.reported_id for e in recent} >= {"yb"} and "xa" not in {e.reported_id for e in recent}
    assert next(e for e in recent if e.reported_id == "yb").label == "ham"


def _utc(ts: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC)


def test_promote_reads_the_log_with_the_same_rule(log):
    from spam_trainer.promote import feedback_records

    records, y = feedback_records(str(log["root"]), None)
    emails, _ = read_feedback(str(log["root"]))
    assert [r.email_id for r in records] == [e.record.email_id for e in emails]
    assert y.tolist() == [float(e.label == "spam") for e in emails]


@pytest.fixture(scope="module")
def assembled(log, dataset_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("assembled") / "dataset"
    summary = assemble_dataset(dataset_dir, str(log["root"]), out, recent_days=7)
    return out, summary


def test_the_corpus_and_its_test_split_are_kept_and_feedback_rows_added(
    assembled, dataset_dir, log
):
    out, summary = assembled
    corpus = read_table(dataset_dir)
    table = read_table(out)
    # every corpus row first, unchanged (ids, labels, splits, content), in the same order
    assert table.slice(0, corpus.num_rows).to_pydict() == corpus.to_pydict()
    # the test split: the corpus's, nothing added
    assert (
        read_table(out, split="test").to_pydict()
        == read_table(dataset_dir, split="test").to_pydict()
    )
    added = table.slice(corpus.num_rows).to_pylist()
    assert {r["source"] for r in added} == {FEEDBACK_SOURCE}
    assert {r["split"] for r in added} == {"train", "validation", RECENT_SPLIT}
    # de-duplicated against the corpus: the two corpus e-mails are not added, the test e-mail
    # reported with the other label keeps its corpus label
    keys = {r["sha256"] for r in added}
    for row in (log["test_row"], log["train_row"]):
        assert feedback.email_key(record_from_row(row)) not in keys
    assert summary.in_corpus == 2 and summary.conflicts_with_corpus == 1
    # the forwarded copies: their corpus labels, recent ones held out in the recent split
    for key, (row, recent) in log["forwarded"].items():
        mine = next(r for r in added if r["sha256"] == key)
        assert mine["label"] == row["label"]
        assert (mine["split"] == RECENT_SPLIT) is recent
        assert mine["id"] == f"feedback-{key[:16]}"
    n_recent = 2 * RECENT
    assert summary.added(RECENT_SPLIT) == n_recent
    assert summary.added() == len(added) == 2 * (OLD + RECENT) + 4
    assert 0 < summary.added("validation") < summary.added("train")
    # read back as records: labeled, in their splits; the manifest counts them
    from spam_core.ingest import load_manifest

    manifest = load_manifest(out)
    base = load_manifest(dataset_dir)
    assert manifest.splits["test"] == base.splits["test"]
    assert manifest.splits[RECENT_SPLIT].messages == n_recent
    assert manifest.by_source[FEEDBACK_SOURCE].messages == len(added)
    assert manifest.fingerprint != base.fingerprint
    records, labels = read_records(out, split=RECENT_SPLIT)
    assert len(records) == n_recent and set(labels) == {"spam", "ham"}
    side = pq.read_table(out / FEEDBACK_FILE).to_pylist()
    assert sorted(r["id"] for r in side) == sorted(r["id"] for r in added)
    doc = json.loads((out / "feedback.json").read_text())
    assert doc["recent_since"] and doc["in_corpus"] == 2


def test_recent_window_zero_holds_nothing_out_and_no_log_adds_nothing(log, dataset_dir, tmp_path):
    summary = assemble_dataset(dataset_dir, str(log["root"]), tmp_path / "a", recent_days=0)
    assert summary.recent_since is None and summary.added(RECENT_SPLIT) == 0
    assert summary.added() == 2 * (OLD + RECENT) + 4
    # the default location without a log: nothing to add, the corpus dataset is used as is
    empty = assemble_dataset(dataset_dir, str(tmp_path / "none"), tmp_path / "b")
    assert empty.dataset_dir is None and not (tmp_path / "b").exists()
    # a log named explicitly must exist; an assembled dataset is not a corpus
    with pytest.raises(FeedbackDataError, match="no such location"):
        assemble_dataset(dataset_dir, str(tmp_path / "none"), tmp_path / "c", require=True)
    with pytest.raises(FeedbackDataError, match="already"):
        assemble_dataset(tmp_path / "a", str(log["root"]), tmp_path / "d")


def test_feedback_rows_read_the_corpus_history_at_their_send_time(
    assembled, log, train_reputation, dataset_dir, tmp_path
):
    """Corpus rows get exactly the statistics they get without feedback (feedback labels are
    not in the history); a forwarded copy — same sender, same send time, reported weeks or
    hours ago — gets exactly its original's (the history at its send time, not at report
    time)."""
    from spam_trainer.reputation import load_reputation, reputation_stage

    out, _ = assembled
    reputation_stage(out, tmp_path / "work", tmp_path / "feast", online=False)
    stats = load_reputation(tmp_path / "work")
    corpus, _ = read_records(dataset_dir)
    assert np.array_equal(stats.stats(corpus), train_reputation.stats(corpus))
    added = [r for r in read_table(out).to_pylist() if r["source"] == FEEDBACK_SOURCE]
    copies = {r["sha256"]: record_from_row(r) for r in added}
    originals, mine = [], []
    for key, (row, _) in log["forwarded"].items():
        originals.append(record_from_row(row))
        mine.append(copies[key])
    assert np.array_equal(stats.stats(mine), train_reputation.stats(originals))
    # at report time (now) they would see their senders' whole history: more than they do
    assert stats.stats(mine)[:, 0].sum() < _at_end(tmp_path / "work", mine)[:, 0].sum()


def _at_end(work: Path, records: list[EmailRecord]) -> np.ndarray:
    import pandas as pd

    from spam_core.features.reputation import STAT_COLUMNS
    from spam_trainer.reputation import SERVING_PREFIX, STATS_FILE

    frame = pd.read_parquet(work / STATS_FILE).set_index("email_id")
    columns = [SERVING_PREFIX + c for c in STAT_COLUMNS]
    return frame.loc[[r.email_id for r in records], columns].to_numpy()


# --------------------------------------------------------------------------- a real training
SMALL = {"20030228_easy_ham.tar.bz2": ("easy_ham", 360), "20030228_spam.tar.bz2": ("spam", 200)}


def _small_dataset(corpus_dir: Path, tmp: Path) -> tuple[Path, Path]:
    """The first messages of two corpus archives, as an archive of the SpamAssassin layout,
    ingested: (corpus directory, dataset)."""
    from spam_core.ingest import ingest
    from tests.utils.emails import write_archive

    members = {}
    for archive, (folder, n) in SMALL.items():
        with tarfile.open(corpus_dir / archive) as tar:
            files = [m for m in tar if m.isfile() and not m.name.endswith("cmds")][:n]
            members |= {
                f"{folder}/{m.name.rsplit('/', 1)[-1]}": tar.extractfile(m).read() for m in files
            }
    (tmp / "corpus").mkdir()
    write_archive(tmp / "corpus" / "small.tar.bz2", members)
    ingest(tmp / "corpus", tmp / "dataset")
    return tmp / "corpus", tmp / "dataset"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_learns_from_feedback_and_reports_the_recent_slice(corpus_dir, tmp_path, monkeypatch):
    """A real training (2 trials, a small corpus: runtime) on the corpus and a feedback log:
    the feedback rows are trained on with their source, the corpus e-mails reported again are
    not, the test split is the corpus's, the recent slice is reported."""
    from typer.testing import CliRunner

    from spam_core.settings import get_settings
    from spam_trainer.cli import app
    from spam_trainer.settings import get_trainer_settings

    small, dataset_dir = _small_dataset(corpus_dir, tmp_path)
    log = _build_log(dataset_dir, small, tmp_path)
    home = tmp_path / "home"
    monkeypatch.setenv("SPAM_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home}/mlflow.db")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setenv("SPAM_RETRAIN_FEEDBACK_LOG_URL", str(log["root"]))  # the default log
    get_settings.cache_clear()
    get_trainer_settings.cache_clear()
    work = tmp_path / "work"
    try:
        result = CliRunner().invoke(
            app,
            [
                "--quiet",
                "train",
                "--dataset",
                str(dataset_dir),
                "--trials",
                "2",
                "--max-rounds",
                "60",
                "--cpus",
                "2",
                "--no-register",  # no gates on a small corpus's model
                "--out",
                str(work),
            ],
            env={"COLUMNS": "200"},
        )
        assert result.exit_code == 0, result.output
        runs = _runs()
    finally:
        get_settings.cache_clear()
        get_trainer_settings.cache_clear()
    out = result.output
    n_fb = 2 * (OLD + RECENT) + 4
    assert f"feedback: {n_fb} e-mails added" in out and "recent feedback" in out
    base = {s: len(read_records(dataset_dir, split=s)[0]) for s in ("train", "validation", "test")}
    dataset = work / "dataset"
    fb = {s: len(read_records(dataset, split=s)[0]) - base[s] for s in ("train", "validation")}
    assert sum(fb.values()) == n_fb - 2 * RECENT and min(fb.values()) > 0
    # the feedback rows were trained on: the vocabulary's documents, every final-fit row
    features = json.loads((work / "features.json").read_text())
    assert features["fitted_on"]["n_documents"] == base["train"] + fb["train"]
    training = json.loads((work / "model" / "training.json").read_text())
    assert training["cold_start"]["rows"] == 2 * (
        base["train"] + base["validation"] + sum(fb.values())
    )
    # the test split is the corpus's: same size, same e-mails as without feedback
    assert training["test_metrics"]["n"] == base["test"]
    assert [r.email_id for r in read_records(dataset, split="test")[0]] == [
        r.email_id for r in read_records(dataset_dir, split="test")[0]
    ]
    # the recent slice: scored, logged as metrics and in the slices table
    doc = json.loads((work / "model" / "slices.json").read_text())
    recent = doc["recent_feedback"]["reported"]
    assert recent["all"]["n"] == 2 * RECENT and recent["all"]["spam"] == RECENT
    assert 0 <= recent["all"]["ham_fpr"] <= 1 and np.isfinite(recent["cold"]["roc_auc"])
    (run,) = runs
    m = run.data.metrics
    assert m["recent_feedback_reported_all_n"] == 2 * RECENT
    assert m["recent_feedback_reported_all_recall"] == pytest.approx(recent["all"]["recall"])
    assert m["feedback_rows_recent"] == 2 * RECENT
    assert m["feedback_rows_train"] == fb["train"] and m["feedback_in_corpus"] == 2
    assert run.data.params["feedback_log"] == str(log["root"])
    # promote scores this version on feedback reported after what it trained on
    summary = json.loads((dataset / "feedback.json").read_text())
    assert run.data.params["feedback_trained_until"] == summary["recent_since"]
    import mlflow

    table = mlflow.load_table("evaluation/slices.json", run_ids=[run.info.run_id])
    assert set(table.loc[table["evaluation"] == "recent feedback", "slice"]) == {"all", "cold"}
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "dataset")}
    assert logged == {"dataset/feedback.json"}


def _runs():
    import mlflow

    from spam_trainer.registry import configure_mlflow
    from spam_trainer.settings import get_trainer_settings

    configure_mlflow(get_trainer_settings())
    return mlflow.MlflowClient().search_runs(
        [mlflow.get_experiment_by_name(get_trainer_settings().experiment).experiment_id]
    )


def test_unseen_since_is_the_later_of_production_and_the_candidates_training_feedback():
    from datetime import UTC, datetime, timedelta

    from spam_trainer.feedback_data import TRAINED_UNTIL_PARAM, unseen_since

    t = datetime(2026, 12, 1, tzinfo=UTC)
    later = {TRAINED_UNTIL_PARAM: (t + timedelta(days=2)).isoformat()}
    assert unseen_since({}, t) == t and unseen_since({}, None) is None
    assert unseen_since(later, t) == t + timedelta(days=2)
    assert unseen_since(later, None) == t + timedelta(days=2)
    assert unseen_since(later, t + timedelta(days=3)) == t + timedelta(days=3)


def test_an_abfs_log_url_naming_its_account_needs_no_account_variable(monkeypatch):
    """A pipeline pod has no AZURE_STORAGE_ACCOUNT_NAME: the feedback log's URL names the
    account (``abfs://<container>@<account>.dfs.core.windows.net/...``), as the chart's
    ``feast_history`` does."""
    from spam_core.storage import open_location

    monkeypatch.delenv("AZURE_STORAGE_ACCOUNT_NAME", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    location = open_location("abfs://logs@stspamprod.dfs.core.windows.net/feedback-logs/")
    assert location.fs.account_name == "stspamprod"
    assert location.root == "logs/feedback-logs"
    assert location.display(location.path("date=2026-12-05")).startswith("abfs://logs/")


def test_train_refuses_a_named_feedback_log_that_does_not_exist(dataset_dir, tmp_path):
    from typer.testing import CliRunner

    from spam_trainer.cli import app

    missing, work = tmp_path / "no-log", tmp_path / "work"
    result = CliRunner().invoke(
        app,
        [
            *("--quiet", "train", "--dataset", str(dataset_dir)),
            *("--feedback-log", str(missing), "--out", str(work)),
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1, result.output
    assert f"feedback log {missing}: no such location" in result.output
    assert "Traceback" not in result.output
    assert not (work / "reputation").exists()  # stopped before any stage ran
