"""Corpus sources: every way a user hands us e-mail, streamed one message at a time.

A source is one of:

* an ``https://`` (or ``http://``) base URL: the standard SpamAssassin archive names are
  downloaded into a local cache (optionally checked against a ``SHA256SUMS`` file), or a URL
  of one archive;
* a directory holding archives (``*.tar.bz2``, ``*.tar.gz``, ``*.tgz``, ``*.tar``, ``*.tar.xz``);
* a single archive;
* a maildir (``cur/``, ``new/``, ``tmp/``);
* an mbox file;
* a directory tree of message files, or a single message file.

Labels come from the SpamAssassin layout: the nearest folder named ``spam*`` is spam, one
containing ``ham`` is ham; otherwise the message is unlabeled (or takes ``label=``).
Files that are not messages (the archives' ``cmds`` rename lists, empty and hidden files) are
yielded as :class:`Skipped`, never parsed. Everything streams: memory stays bounded whatever
the size of the source.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from spam_core.errors import SourceError
from spam_core.scoring import Label  # a corpus label is a decision's: spam or ham

PUBLIC_CORPUS_URL = "https://spamassassin.apache.org/old/publiccorpus/"
"""Where real users download the SpamAssassin public corpus."""

DEFAULT_ARCHIVES = (
    "20030228_easy_ham.tar.bz2",
    "20030228_easy_ham_2.tar.bz2",
    "20030228_hard_ham.tar.bz2",
    "20030228_spam.tar.bz2",
    # the 2005 fix of spam_2 (one ham removed); never download both spam_2 archives
    "20050311_spam_2.tar.bz2",
)

ARCHIVE_SUFFIXES = (".tar.bz2", ".tbz2", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar")
_RENAME_LINE_RE = re.compile(rb"^\s*(?:mv|cp|rm|ln)\s+\S+(?:\s+\S+)?\s*$")

ProgressFn = Callable[[str, int, int | None], None]
"""``progress(task, advance_bytes, total_bytes)`` for downloads and archive reads."""


@dataclass(frozen=True, slots=True)
class RawMessage:
    source: str
    """Archive, file or folder the message came from (a name, not a full path)."""
    member: str
    """Path inside the source (archive member, relative file path, ``mbox#N``)."""
    data: bytes
    label: Label | None


@dataclass(frozen=True, slots=True)
class Skipped:
    source: str
    member: str
    reason: str


Item = RawMessage | Skipped


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def label_from_path(parts: tuple[str, ...] | list[str]) -> Label | None:
    """Label from the nearest folder (innermost first) named like the SpamAssassin layout."""
    for part in reversed(parts):
        name = part.lower()
        for suffix in ARCHIVE_SUFFIXES:
            name = name.removesuffix(suffix)
        name = re.sub(r"^\d{8}_", "", name)  # 20030228_spam -> spam
        if name.startswith("spam"):
            return "spam"
        if "ham" in name:
            return "ham"
    return None


def non_message_reason(name: str, data: bytes) -> str | None:
    """Why a file is not an e-mail message, or ``None`` when it should be parsed."""
    base = PurePosixPath(name).name
    if base == "cmds":
        return "rename list (cmds)"
    if base.startswith("."):
        return "hidden file"
    if not data.strip():
        return "empty file"
    head = data[:4096].splitlines()[:20]
    lines = [ln for ln in head if ln.strip()]
    if lines and all(_RENAME_LINE_RE.match(ln) for ln in lines):
        return "rename list"
    return None


def _looks_like_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return head == b"From "


# --------------------------------------------------------------------------- readers
def _read_archive(
    path: Path,
    label: Label | None,
    source_name: str | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[Item]:
    name = source_name or path.name
    archive_label = label_from_path([path.name])
    total = path.stat().st_size
    try:
        with path.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            last = 0
            for member in tar:
                if progress is not None:
                    pos = raw.tell()
                    progress(name, pos - last, total)
                    last = pos
                if not member.isfile():
                    continue
                fh = tar.extractfile(member)
                data = fh.read() if fh is not None else b""
                reason = non_message_reason(member.name, data)
                if reason:
                    yield Skipped(name, member.name, reason)
                    continue
                parts = PurePosixPath(member.name).parts[:-1]
                yield RawMessage(
                    name, member.name, data, label or label_from_path(parts) or archive_label
                )
            if progress is not None:
                progress(name, total - last, total)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SourceError(f"{path}: cannot read archive: {exc}") from exc


def _read_mbox(path: Path, label: Label | None) -> Iterator[Item]:
    box = mailbox.mbox(path, create=False)
    lab = label or label_from_path(path.parts)
    try:
        for i, key in enumerate(box.iterkeys()):
            data = box.get_bytes(key)
            if not data.strip():
                yield Skipped(path.name, f"{path.name}#{i}", "empty message")
                continue
            yield RawMessage(path.name, f"{path.name}#{i}", data, lab)
    finally:
        box.close()


def _read_maildir(path: Path, label: Label | None) -> Iterator[Item]:
    lab = label or label_from_path(path.parts)
    for sub in ("new", "cur"):
        folder = path / sub
        for file in sorted(folder.iterdir()) if folder.is_dir() else ():
            if not file.is_file():
                continue
            data = file.read_bytes()
            member = f"{sub}/{file.name}"
            reason = non_message_reason(file.name, data)
            if reason:
                yield Skipped(path.name, member, reason)
            else:
                yield RawMessage(path.name, member, data, lab)


def _is_maildir(path: Path) -> bool:
    return all((path / d).is_dir() for d in ("cur", "new", "tmp"))


def _read_tree(root: Path, label: Label | None, progress: ProgressFn | None) -> Iterator[Item]:
    """A directory: maildirs, archives, mboxes and message files, in sorted order."""
    if _is_maildir(root):
        yield from _read_maildir(root, label)
        return
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames.sort()
        maildirs = [d for d in dirnames if _is_maildir(here / d)]
        for d in maildirs:
            yield from _read_maildir(here / d, label or label_from_path((here / d).parts))
        dirnames[:] = [d for d in dirnames if d not in maildirs and not d.startswith(".")]
        for fname in sorted(filenames):
            file = here / fname
            rel = file.relative_to(root)
            if is_archive(fname):
                yield from _read_archive(file, label, str(rel), progress)
                continue
            if _looks_like_mbox(file) and fname.endswith((".mbox", ".mbx")):
                yield from _read_mbox(file, label or label_from_path(rel.parts[:-1]))
                continue
            if fname in ("SHA256SUMS", "MD5SUMS", "README", "README.md"):
                yield Skipped(root.name, str(rel), "corpus metadata file")
                continue
            try:
                data = file.read_bytes()
            except OSError as exc:
                yield Skipped(root.name, str(rel), f"unreadable: {exc}")
                continue
            reason = non_message_reason(fname, data)
            if reason:
                yield Skipped(root.name, str(rel), reason)
                continue
            lab = label or label_from_path(rel.parts[:-1]) or label_from_path((root.name,))
            yield RawMessage(rel.parts[0] if len(rel.parts) > 1 else root.name, str(rel), data, lab)


def _read_local(path: Path, label: Label | None, progress: ProgressFn | None) -> Iterator[Item]:
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if path.is_dir():
        yield from _read_tree(path, label, progress)
    elif is_archive(path.name):
        yield from _read_archive(path, label, progress=progress)
    elif _looks_like_mbox(path):
        yield from _read_mbox(path, label)
    else:
        data = path.read_bytes()
        reason = non_message_reason(path.name, data)
        if reason:
            yield Skipped(path.name, path.name, reason)
        else:
            yield RawMessage(path.name, path.name, data, label or label_from_path(path.parts[:-1]))


# --------------------------------------------------------------------------- download
def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_sha256sums(text: str) -> dict[str, str]:
    """``<hex>  <name>`` lines (``sha256sum`` format) -> {name: hex}."""
    sums = {}
    for line in text.splitlines():
        parts = line.strip().split()
        if len(parts) == 2 and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _fetch_text(url: str, timeout: float) -> str:
    import httpx

    try:
        resp = httpx.get(url, timeout=timeout, follow_redirects=True)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise SourceError(f"{url}: cannot fetch ({exc})") from exc
    return resp.text


def download(
    url: str,
    cache_dir: Path,
    *,
    expected_sha256: str | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` into ``cache_dir`` once (atomic rename); verify the checksum if given."""
    import httpx

    name = PurePosixPath(url.split("?", 1)[0]).name or "download"
    key = hashlib.sha256(url.encode()).hexdigest()[:12]
    dest = cache_dir / key / name
    if dest.is_file():
        if expected_sha256 is None or sha256_file(dest) == expected_sha256:
            return dest
        dest.unlink()  # stale or corrupt cache entry: fetch again
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
            resp.raise_for_status()
            total = int(resp.headers.get("content-length", 0)) or None
            with part.open("wb") as fh:
                for chunk in resp.iter_bytes(1 << 16):
                    fh.write(chunk)
                    digest.update(chunk)
                    if progress is not None:
                        progress(f"download {name}", len(chunk), total)
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise SourceError(f"{url}: download failed ({exc})") from exc
    actual = digest.hexdigest()
    if expected_sha256 is not None and actual != expected_sha256:
        part.unlink(missing_ok=True)
        raise SourceError(f"{url}: SHA-256 mismatch (expected {expected_sha256}, got {actual})")
    part.replace(dest)
    return dest


def _read_url(
    url: str,
    label: Label | None,
    cache_dir: Path,
    checksums: str | None,
    progress: ProgressFn | None,
) -> Iterator[Item]:
    base = url if url.endswith("/") or is_archive(url) else url + "/"
    names = [PurePosixPath(base).name] if is_archive(base) else list(DEFAULT_ARCHIVES)
    if is_archive(base):
        base = base[: -len(names[0])]
    sums: dict[str, str] = {}
    if checksums:
        if checksums.startswith(("http://", "https://")):
            sums = parse_sha256sums(_fetch_text(checksums, 60.0))
        else:
            sums = parse_sha256sums(Path(checksums).read_text())
        missing = [n for n in names if n not in sums]
        if missing:
            raise SourceError(f"{checksums}: no checksum for {', '.join(missing)}")
    for name in names:
        path = download(base + name, cache_dir, expected_sha256=sums.get(name), progress=progress)
        yield from _read_archive(path, label, name, progress)


def verify_local_checksums(
    directory: Path, sums_file: Path | None = None, only: str | None = None
) -> dict[str, str]:
    """Check the archives listed in ``sums_file`` (default: the directory's own
    ``SHA256SUMS``) against the files in ``directory`` (or just ``only``); {name: sha256}."""
    sums_file = sums_file or directory / "SHA256SUMS"
    if not sums_file.is_file():
        raise SourceError(f"{sums_file}: no checksum file to verify against")
    sums = parse_sha256sums(sums_file.read_text())
    if not sums:
        raise SourceError(f"{sums_file}: no '<sha256>  <name>' lines")
    if only is not None:
        if only not in sums:
            raise SourceError(f"{sums_file}: no checksum for {only}")
        sums = {only: sums[only]}
    verified = {}
    for name, expected in sorted(sums.items()):
        path = directory / name
        if not path.is_file():
            raise SourceError(f"{path}: listed in {sums_file.name} but missing")
        actual = sha256_file(path)
        if actual != expected:
            raise SourceError(f"{path}: SHA-256 mismatch (expected {expected}, got {actual})")
        verified[name] = actual
    return verified


def iter_source(
    source: str | os.PathLike[str],
    *,
    label: Label | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    checksums: str | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[Item]:
    """Stream every message (and every skipped file) of ``source``, in a stable order."""
    if label not in (None, "spam", "ham"):
        raise SourceError(f"label must be 'spam' or 'ham', got {label!r}")
    text = str(source)
    if text.startswith(("http://", "https://")):
        cache = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "spam-platform"
        yield from _read_url(text, label, cache, checksums, progress)
        return
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise SourceError(f"{text}: unsupported source scheme (use a path, http(s):// or file://)")
    path = Path(text).expanduser()
    if checksums:
        given = Path(checksums).expanduser()
        if path.is_dir():
            verify_local_checksums(path, given if given.is_file() else None)
        elif path.is_file():
            verify_local_checksums(path.parent, given if given.is_file() else None, only=path.name)
    yield from _read_local(path, label, progress)
