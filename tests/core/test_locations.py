"""The one location rule of batch jobs (``spam_core.locations.confine``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spam_core.locations import LocationRefused, confine

ABFS = ["abfs://datasets/batch/input"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("/etc/passwd", "outside the allowed"),
        ("file:///etc/shadow", "scheme 'file'"),
        ("http://127.0.0.1:9/x", "scheme 'http'"),
        ("s3://bucket/x", "scheme 's3'"),
        ("abfs://other/batch/input/x.parquet", "outside the allowed"),
        ("abfs://datasets@evil.dfs.core.windows.net/batch/input/x", "outside the allowed"),
        ("abfs://datasets/batch/inputs-elsewhere/x", "outside the allowed"),
        ("abfs://datasets/batch/input/../../x", "'..'"),
        ("relative/path.parquet", "absolute"),
        ("abfs://datasets/batch/input/x.parquet\n", "control characters"),
        ("abfs://datasets/batch/input/a b", "control characters"),
        ("", "control characters"),
    ],
)
def test_refused_with_the_reason(location: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(LocationRefused, match=reason):
        confine(location, [*ABFS, str(tmp_path)], "input_path")


def test_allowed_under_a_root(tmp_path: Path) -> None:
    roots = [*ABFS, str(tmp_path)]
    assert confine("abfs://datasets/batch/input/2026/x.parquet", roots) == (
        "abfs://datasets/batch/input/2026/x.parquet"
    )
    assert confine(str(tmp_path / "in" / "x.parquet"), roots) == str(tmp_path / "in/x.parquet")
    assert confine(str(tmp_path), roots) == str(tmp_path)


def test_a_symlink_out_of_a_root_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to("/etc")
    with pytest.raises(LocationRefused, match="outside"):
        confine(str(root / "escape" / "passwd"), [str(root)])


def test_no_roots_allow_nothing(tmp_path: Path) -> None:
    with pytest.raises(LocationRefused, match="no allowed locations"):
        confine(str(tmp_path / "x"), [])
