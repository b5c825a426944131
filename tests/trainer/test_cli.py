"""The spam-platform CLI: thin commands over the library, clear errors, exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter

import pytest
from typer.testing import CliRunner

from spam_trainer.cli import app
from tests.utils.emails import simple, write_archive


@pytest.fixture
def runner(monkeypatch, tmp_path):
    monkeypatch.setenv("SPAM_HOME", str(tmp_path / "home"))
    from spam_core.settings import get_settings

    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_ingest_and_fit_and_extract(runner, tmp_path, corpus_dir, fitted, feast_repo):
    out = tmp_path / "ds"
    r = runner.invoke(
        app, ["--quiet", "ingest", "--corpus", str(corpus_dir), "--out", str(out), "--json"]
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["totals"]["messages"] == 4810 and doc["totals"]["spam"] == 1501

    art = tmp_path / "features.json"
    r = runner.invoke(app, ["--quiet", "features", "fit", "--dataset", str(out), "--out", str(art)])
    assert r.exit_code == 0, r.output
    assert "529 features" in r.output and art.is_file()
    # the reputation columns' statistics come from the point-in-time history, as in training
    from spam_core import artifacts

    assert artifacts.load(art).stats == fitted.stats
    assert not (tmp_path / "home" / "feast").exists()  # no online store was touched

    msg = tmp_path / "scam.eml"
    msg.write_bytes(simple(subject="WINNER!!!", body="Click here http://203.0.113.9/ $$$"))
    r = runner.invoke(app, ["features", "extract", "--artifacts", str(art), str(msg)])
    assert r.exit_code == 0, r.output
    values = json.loads(r.stdout)
    assert values["url_ip_host"] == 1.0 and values["exclamation_count_log"] > 1
    # no Feast repository configured: a warning, and the reputation defaults
    assert "no Feast repository" in r.stderr
    assert values["sender_spam_rate"] == values["domain_spam_rate"] == 0.5
    assert "sender_message_count_log" not in values  # zero values are not printed

    # with the training's repository: the sender's train history from the online store
    from spam_core.ingest import read_records

    records, labels = read_records(out, split="train")
    senders = Counter(x.sender_address for x in records if x.sender_address)
    sender, n = senders.most_common(1)[0]
    n_spam = sum(
        lab == "spam" for x, lab in zip(records, labels, strict=True) if x.sender_address == sender
    )
    msg.write_bytes(simple(sender=f"Someone <{sender}>"))
    r = runner.invoke(
        app,
        ["features", "extract", "--artifacts", str(art), "--feast-repo", str(feast_repo), str(msg)],
    )
    assert r.exit_code == 0, r.output
    values = json.loads(r.stdout)
    assert values["sender_message_count_log"] == pytest.approx(math.log1p(n), abs=1e-6)
    assert values["sender_spam_rate"] == pytest.approx((n_spam + 1) / (n + 2), abs=1e-6)
    r = runner.invoke(
        app,
        ["features", "extract", "-a", str(art), "--feast-repo", str(tmp_path), str(msg)],
    )
    assert r.exit_code == 2 and "not a Feast feature repository" in r.output


def test_errors_exit_2_with_a_message(runner, tmp_path):
    r = runner.invoke(
        app, ["ingest", "--corpus", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]
    )
    assert r.exit_code == 2 and "no such file" in r.output
    r = runner.invoke(app, ["ingest", "--corpus", str(tmp_path), "--label", "eggs"])
    assert r.exit_code == 2 and "--label must be spam or ham" in r.output
    write_archive(tmp_path / "one_spam.tar.bz2", {"spam/1": simple()})
    r = runner.invoke(app, ["features", "fit", "--dataset", str(tmp_path)])
    assert r.exit_code == 2 and "not an ingested dataset" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = runner.invoke(app, ["features", "extract", "--artifacts", str(bad), str(bad)])
    assert r.exit_code == 2 and "not a spam-platform feature artifact" in r.output


def test_fit_on_too_small_a_corpus_is_a_clear_error(runner, tmp_path):
    write_archive(
        tmp_path / "tiny_spam.tar.bz2",
        {f"spam/{i}": simple(body=f"word{i} text") for i in range(30)},
    )
    r = runner.invoke(
        app,
        [
            "--quiet",
            "ingest",
            "--corpus",
            str(tmp_path / "tiny_spam.tar.bz2"),
            "--out",
            str(tmp_path / "ds"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["features", "fit", "--dataset", str(tmp_path / "ds")])
    assert r.exit_code == 2 and "500 terms are needed" in r.output


def test_describe_lists_every_feature(runner):
    r = runner.invoke(app, ["features", "describe"], terminal_width=200)
    assert r.exit_code == 0
    assert "spam_phrase_count_log" in r.output and "send_hour" in r.output


def test_console_script_is_installed():
    out = subprocess.run(
        [sys.executable, "-m", "spam_trainer", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "ingest" in out and "features" in out
