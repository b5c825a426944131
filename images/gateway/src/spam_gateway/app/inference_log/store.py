"""Where inference-log files go: a local directory or Azure Blob (``abfs://`` through adlfs).

* a plain path or ``file://…``: written to a temporary name and renamed, so readers never see
  half a file;
* ``abfs://<container>/<prefix>`` (also ``az://``, ``abfss://``): one Put Blob per file via
  adlfs, opened by ``spam_core.storage.open_location``. Credentials: ``connection_string``
  when given (Azurite locally), else the account the URL names, else the account name
  (``AZURE_STORAGE_ACCOUNT_NAME``) with ``DefaultAzureCredential``, which picks up the
  workload identity in the cluster. The Azure SDK's own retries are off (its first back-off is
  15 s): a failed write is spooled and retried by the logger instead;
* any other fsspec URL is passed to fsspec as is.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from spam_core.storage import AZURE_PROTOCOLS, open_location, protocol_of


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
        location = open_location(
            url, connection_string=connection_string, account_name=account_name, timeout_s=timeout_s
        )
        self.fs, self.root, self.local = location.fs, location.root, location.local
        self._write_kwargs: dict[str, object] = {}
        if protocol_of(url) in AZURE_PROTOCOLS:
            self._write_kwargs["retry_total"] = 0

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
