"""Where inference-log files go: a local directory or Azure Blob (``abfs://`` through adlfs).

* a plain path or ``file://…``: written to a temporary name and renamed, so readers never see
  half a file;
* ``abfs://<container>/<prefix>`` (also ``az://``, ``abfss://``): one Put Blob per file via
  adlfs. Credentials: ``connection_string`` when given (Azurite locally), else the account
  name (``AZURE_STORAGE_ACCOUNT_NAME``) with ``DefaultAzureCredential``, which picks up the
  workload identity in the cluster. The Azure SDK's own retries are off (its first back-off is
  15 s): a failed write is spooled and retried by the logger instead;
* any other fsspec URL is passed to fsspec as is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

AZURE_PROTOCOLS = ("abfs", "abfss", "az")


class LogStore:
    def __init__(
        self,
        url: str,
        *,
        connection_string: str | None = None,
        account_name: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        self._write_kwargs: dict[str, object] = {}
        if protocol in AZURE_PROTOCOLS:
            options: dict[str, object] = {
                "connection_timeout": max(1, round(timeout_s)),
                "read_timeout": max(1, round(timeout_s)),
                "skip_instance_cache": True,
            }
            if connection_string:
                options["connection_string"] = connection_string
            elif account_name:
                options["account_name"] = account_name
            self.fs = fsspec.filesystem("abfs", **options)
            self.root = self.fs._strip_protocol(url).rstrip("/")
            self._write_kwargs["retry_total"] = 0
        else:
            self.fs, self.root = fsspec.core.url_to_fs(url)
            self.root = self.root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)

    def write(self, relpath: str, data: bytes) -> None:
        path = f"{self.root}/{relpath}"
        if self.local:
            write_atomic(Path(path), data)
        else:
            self.fs.pipe_file(path, data, **self._write_kwargs)

    def __repr__(self) -> str:
        return f"LogStore({self.url!r})"


def write_atomic(path: Path, data: bytes, *, sync: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
