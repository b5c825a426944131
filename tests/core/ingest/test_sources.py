"""Every kind of corpus source, including a real HTTP download with checksum verification."""

from __future__ import annotations

import hashlib
import http.server
import mailbox
import threading
from functools import partial

import pytest

from spam_core.errors import SourceError
from spam_core.ingest.sources import (
    DEFAULT_ARCHIVES,
    RawMessage,
    Skipped,
    iter_source,
    label_from_path,
    non_message_reason,
)
from tests.utils.emails import simple, write_archive

HAM = simple(subject="notes", body="meeting notes")
SPAM = simple(subject="WIN", body="win money now")


def _messages(items):
    return [i for i in items if isinstance(i, RawMessage)]


def _skipped(items):
    return [i for i in items if isinstance(i, Skipped)]


@pytest.mark.parametrize(
    ("parts", "label"),
    [
        (("spam_2",), "spam"),
        (("easy_ham",), "ham"),
        (("hard_ham", "x"), "ham"),
        (("20030228_spam.tar.bz2",), "spam"),
        (("inbox", "Spam"), "spam"),
        (("misc",), None),
    ],
)
def test_labels_from_the_spamassassin_layout(parts, label):
    assert label_from_path(parts) == label


def test_non_messages_are_recognized():
    assert non_message_reason("spam/cmds", b"mv 00001.a 00001.b\n") == "rename list (cmds)"
    assert non_message_reason("x/list", b"mv a b\nmv c d\n") == "rename list"
    assert non_message_reason("x/.DS_Store", b"\0\0") == "hidden file"
    assert non_message_reason("x/0001", b"  \n") == "empty file"
    assert non_message_reason("x/0001", b"just body text, no headers\n") is None


@pytest.mark.parametrize("suffix", [".tar.bz2", ".tar.gz", ".tar"])
def test_single_archive(tmp_path, suffix):
    mode = {".tar.bz2": "w:bz2", ".tar.gz": "w:gz", ".tar": "w"}[suffix]
    arc = write_archive(
        tmp_path / f"20990101_spam{suffix}",
        {"spam/0001.aa": SPAM, "spam/cmds": b"mv a b\n", "spam/0002.bb": HAM},
        mode,
    )
    items = list(iter_source(arc))
    msgs = _messages(items)
    assert [m.member for m in msgs] == ["spam/0001.aa", "spam/0002.bb"]
    assert {m.label for m in msgs} == {"spam"}
    assert [s.reason for s in _skipped(items)] == ["rename list (cmds)"]


def test_directory_tree_of_message_files(tmp_path):
    (tmp_path / "corpus" / "easy_ham").mkdir(parents=True)
    (tmp_path / "corpus" / "spam").mkdir()
    (tmp_path / "corpus" / "easy_ham" / "1").write_bytes(HAM)
    (tmp_path / "corpus" / "spam" / "2").write_bytes(SPAM)
    (tmp_path / "corpus" / "spam" / "cmds").write_bytes(b"mv 1 2\n")
    items = list(iter_source(tmp_path / "corpus"))
    assert {(m.member, m.label) for m in _messages(items)} == {
        ("easy_ham/1", "ham"),
        ("spam/2", "spam"),
    }
    assert len(_skipped(items)) == 1


def test_maildir(tmp_path):
    box = mailbox.Maildir(tmp_path / "Spam", create=True)
    box.add(SPAM)
    box.add(SPAM.replace(b"WIN", b"WIN BIG"))
    msgs = _messages(iter_source(tmp_path / "Spam"))
    assert len(msgs) == 2 and {m.label for m in msgs} == {"spam"}


def test_mbox_with_explicit_label(tmp_path):
    box = mailbox.mbox(tmp_path / "inbox.mbox")
    for data in (HAM, SPAM, HAM.replace(b"notes", b"more notes")):
        box.add(data)
    box.flush()
    box.close()
    msgs = _messages(iter_source(tmp_path / "inbox.mbox", label="ham"))
    assert [m.member for m in msgs] == ["inbox.mbox#0", "inbox.mbox#1", "inbox.mbox#2"]
    assert {m.label for m in msgs} == {"ham"}
    assert b"meeting notes" in msgs[0].data


def test_single_message_file(tmp_path):
    (tmp_path / "msg.eml").write_bytes(SPAM)
    msgs = _messages(iter_source(tmp_path / "msg.eml"))
    assert len(msgs) == 1 and msgs[0].label is None


def test_errors_are_clear(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        list(iter_source(tmp_path / "missing"))
    with pytest.raises(SourceError, match="unsupported source scheme"):
        list(iter_source("s3://bucket/corpus"))
    with pytest.raises(SourceError, match="label must be"):
        list(iter_source(tmp_path, label="eggs"))  # type: ignore[arg-type]
    bad = tmp_path / "broken.tar.bz2"
    bad.write_bytes(b"this is not bzip2")
    with pytest.raises(SourceError, match="cannot read archive"):
        list(iter_source(bad))


def test_local_checksums_are_verified(tmp_path, corpus_dir):
    from spam_core.ingest.sources import verify_local_checksums

    assert len(verify_local_checksums(corpus_dir)) == 6
    arc = write_archive(tmp_path / "a.tar.bz2", {"spam/1": SPAM})
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  a.tar.bz2\n")
    with pytest.raises(SourceError, match="SHA-256 mismatch"):
        list(iter_source(tmp_path, checksums="auto"))
    (tmp_path / "SHA256SUMS").write_text(
        f"{hashlib.sha256(arc.read_bytes()).hexdigest()}  a.tar.bz2\n"
    )
    assert len(_messages(iter_source(tmp_path, checksums="auto"))) == 1


@pytest.fixture
def http_corpus(tmp_path):
    """A real HTTP server on loopback serving the standard archive names."""
    root = tmp_path / "www"
    root.mkdir()
    sums = []
    for i, name in enumerate(DEFAULT_ARCHIVES):
        data = SPAM if "spam" in name else HAM
        arc = write_archive(
            root / name, {f"{name.split('_', 1)[1].split('.')[0]}/{i}": data + str(i).encode()}
        )
        sums.append(f"{hashlib.sha256(arc.read_bytes()).hexdigest()}  {name}")
    (root / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_from_a_base_url_with_checksums_and_cache(http_corpus, tmp_path):
    url, root = http_corpus
    cache = tmp_path / "cache"
    msgs = _messages(iter_source(url, cache_dir=cache, checksums=url + "SHA256SUMS"))
    assert len(msgs) == len(DEFAULT_ARCHIVES)
    assert sorted(m.label for m in msgs) == ["ham", "ham", "ham", "spam", "spam"]
    cached = sorted(p.name for p in cache.rglob("*.tar.bz2"))
    assert cached == sorted(DEFAULT_ARCHIVES)
    # second read comes from the cache: works with the server's files gone
    for p in root.glob("*.tar.bz2"):
        p.unlink()
    assert len(_messages(iter_source(url, cache_dir=cache))) == len(DEFAULT_ARCHIVES)


def test_download_checksum_mismatch_is_an_error(http_corpus, tmp_path):
    url, root = http_corpus
    (root / "SHA256SUMS").write_text("\n".join(f"{'a' * 64}  {n}" for n in DEFAULT_ARCHIVES))
    with pytest.raises(SourceError, match="SHA-256 mismatch"):
        list(iter_source(url, cache_dir=tmp_path / "c", checksums=url + "SHA256SUMS"))
    assert not list((tmp_path / "c").rglob("*.tar.bz2"))  # nothing half-written is kept


def test_single_archive_url_and_http_errors(http_corpus, tmp_path):
    url, _ = http_corpus
    msgs = _messages(iter_source(url + DEFAULT_ARCHIVES[3], cache_dir=tmp_path / "c"))
    assert len(msgs) == 1 and msgs[0].label == "spam"
    with pytest.raises(SourceError, match="download failed"):
        list(iter_source(url + "missing.tar.bz2", cache_dir=tmp_path / "c"))


def test_single_local_archive_checked_against_a_given_sums_file(tmp_path):
    arc = write_archive(tmp_path / "x_spam.tar.bz2", {"spam/1": SPAM})
    sums = tmp_path / "elsewhere.txt"
    sums.write_text(
        f"{hashlib.sha256(arc.read_bytes()).hexdigest()}  x_spam.tar.bz2\n"
        f"{'1' * 64}  not-here.tar.bz2\n"
    )
    assert len(_messages(iter_source(arc, checksums=str(sums)))) == 1
    sums.write_text(f"{'2' * 64}  x_spam.tar.bz2\n")
    with pytest.raises(SourceError, match="SHA-256 mismatch"):
        list(iter_source(arc, checksums=str(sums)))
    with pytest.raises(SourceError, match="no checksum file to verify against"):
        list(iter_source(arc, checksums=str(tmp_path / "missing-file")))
