"""Locations of the platform's logs, reports and published models: a local directory or an
fsspec URL. The drift job reads the inference log and writes its reports through it;
``spam-platform retrain`` reads the drift reports and the feedback log and writes its
decisions; ``spam-platform publish`` writes model versions (``spam_trainer.publish.Store``).

``abfs://<container>/<prefix>`` (also ``az://``, ``abfss://``) goes through adlfs. Credentials,
as for the gateway's inference-log store: a connection string when given (Azurite locally;
``--connection-string`` or ``AZURE_STORAGE_CONNECTION_STRING``), else the account name
(``AZURE_STORAGE_ACCOUNT_NAME``, or the account an ``abfs://<container>@<account host>/...``
URL names) with ``DefaultAzureCredential``, which picks up the workload identity in the
cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # fsspec: the io extra; adlfs (abfs://) comes with the images that need it
    import fsspec
    import pyarrow as pa

AZURE_PROTOCOLS = ("abfs", "abfss", "az")


def protocol_of(url: str) -> str:
    """``url``'s scheme in lower case; ``file`` for a plain path."""
    return url.split("://", 1)[0].lower() if "://" in url else "file"


@dataclass(frozen=True)
class Location:
    url: str
    fs: fsspec.AbstractFileSystem
    root: str

    @property
    def local(self) -> bool:
        from fsspec.implementations.local import LocalFileSystem

        return isinstance(self.fs, LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def display(self, path: str) -> str:
        """``path`` as a URL a person (or the gateway) can use again."""
        if self.local:
            return path
        return f"{protocol_of(self.url)}://{path}"

    def read_bytes(self, path: str) -> bytes | None:
        """The stored bytes, or None when there is no such file."""
        try:
            return self.fs.cat_file(path)
        except FileNotFoundError:
            return None

    def write_bytes(self, path: str, data: bytes) -> None:
        """The whole file; a local one is written under a temporary name, then moved, so a
        reader never sees it half-written."""
        if self.local:
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            tmp = f"{path}.tmp"
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, path)
        else:
            self.fs.pipe_file(path, data)


def account_qualified(url: str, account: str | None = None) -> str:
    """``url`` as a pod without ``AZURE_STORAGE_ACCOUNT_NAME`` opens it (a Kubeflow pipeline
    step given a location by a pod that has it): ``abfs://<container>/<path>`` becomes
    ``abfs://<container>@<account>.dfs.core.windows.net/<path>`` with ``account`` (default
    ``AZURE_STORAGE_ACCOUNT_NAME``). Local paths, other schemes, Azure URLs that name their
    account, and any URL when no account is known are returned unchanged."""
    import os

    if protocol_of(url) not in AZURE_PROTOCOLS:
        return url
    scheme, rest = url.split("://", 1)
    container, sep, path = rest.partition("/")
    account = account if account is not None else os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
    if "@" in container or not container or not account:
        return url
    return f"{scheme}://{container}@{account}.dfs.core.windows.net{sep}{path}"


def open_location(
    url: str,
    *,
    connection_string: str | None = None,
    account_name: str | None = None,
    timeout_s: float | None = None,
) -> Location:
    """``url`` opened through fsspec. Azure (``abfs://``, ``abfss://``, ``az://``): with
    ``connection_string`` when given, else the account the URL names
    (``abfs://<container>@<account>.dfs.core.windows.net/…``), else ``account_name`` (default:
    adlfs reads ``AZURE_STORAGE_ACCOUNT_NAME``); ``timeout_s`` bounds each connection and read
    (default: the Azure SDK's)."""
    import fsspec

    if protocol_of(url) in AZURE_PROTOCOLS:
        options: dict[str, object] = {"skip_instance_cache": True}
        if timeout_s is not None:
            options["connection_timeout"] = options["read_timeout"] = max(1, round(timeout_s))
        if connection_string:
            options["connection_string"] = connection_string
        elif "@" in url.split("://", 1)[1].split("/", 1)[0]:
            # abfs://<container>@<account>.dfs.core.windows.net/...: the account the URL names
            # (a pod without AZURE_STORAGE_ACCOUNT_NAME, e.g. a Kubeflow pipeline step)
            fs, root = fsspec.core.url_to_fs(url, **options)
            return Location(url=url, fs=fs, root=root.rstrip("/"))
        elif account_name:
            options["account_name"] = account_name
        fs = fsspec.filesystem("abfs", **options)
        root = fs._strip_protocol(url).rstrip("/")
    else:
        fs, root = fsspec.core.url_to_fs(url)
        root = root.rstrip("/")
    return Location(url=url, fs=fs, root=root)


def read_dated(
    fs: fsspec.AbstractFileSystem,
    root: str,
    empty: pa.Table,
    *,
    since: datetime | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """The rows of a log kept in ``date=YYYY-MM-DD/hour=HH/`` partitions with a ``timestamp``
    column (the feedback log, the shadow log), those after ``since`` (UTC) when given; ``empty``
    (the log's schema, no rows) when there is no log yet. Only the ``date=`` partitions from
    ``since``'s day on are listed and read."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    wanted = list(columns) if columns is not None else None
    if wanted is not None:
        empty = empty.select(wanted)
    try:
        days = fs.ls(root, detail=False)
    except FileNotFoundError:
        return empty
    first = f"date={since.astimezone(UTC):%Y-%m-%d}" if since is not None else ""
    dirs = sorted(
        d
        for d in days
        if (name := d.rstrip("/").rsplit("/", 1)[-1]).startswith("date=") and name >= first
    )
    if not dirs:
        return empty
    dataset = ds.dataset(
        [ds.dataset(d, filesystem=fs, format="parquet", exclude_invalid_files=False) for d in dirs]
    )
    where = None
    if since is not None:
        where = ds.field("timestamp") > pa.scalar(since.astimezone(UTC), pa.timestamp("us", "UTC"))
    return dataset.to_table(columns=wanted, filter=where)
