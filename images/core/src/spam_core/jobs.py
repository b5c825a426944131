"""Batch job status documents: one JSON per job, on a local directory or any fsspec URL.

The job process (``spam-batch run``) writes them; the gateway's ``POST /predict/batch``
creates them and ``GET /predict/batch/{job_id}`` reads them. One vocabulary end to end: the
document speaks the gateway's public words (states ``pending`` → ``running`` → ``succeeded`` |
``failed``; ``input_path`` / ``output_path``, a local path or an fsspec URL); documents written
before (``queued``, ``input_uri`` / ``output_uri``) still read. Writes
replace the whole document (write to a temporary name, then move), so a reader never sees a
half-written file.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Literal

import fsspec
from pydantic import AliasChoices, BaseModel, Field, field_validator

State = Literal["pending", "running", "succeeded", "failed"]
_JOB_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,62}")


class JobCounts(BaseModel):
    input: int = 0
    scored: int = 0
    spam: int = 0
    ham: int = 0
    errors: int = 0


class JobStatus(BaseModel):
    job_id: str
    state: State
    environment: str
    model_ref: str
    model_version: str | None = None
    input_path: str = Field(validation_alias=AliasChoices("input_path", "input_uri"))
    output_path: str = Field(validation_alias=AliasChoices("output_path", "output_uri"))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: JobCounts = Field(default_factory=JobCounts)
    errors: list[str] = Field(default_factory=list)
    """The first few per-message errors and, for a failed job, why it failed."""

    @field_validator("state", mode="before")
    @classmethod
    def _earlier_state_name(cls, value: object) -> object:
        return "pending" if value == "queued" else value


def new_job_id() -> str:
    return f"batch-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}"


def valid_job_id(job_id: str) -> bool:
    return _JOB_ID.fullmatch(job_id) is not None


class StatusStore:
    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self._fs: fsspec.AbstractFileSystem | None = None
        self._path = ""

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        """Created on first use (a remote filesystem connects when it is created)."""
        if self._fs is None:
            self._fs, self._path = fsspec.core.url_to_fs(self.root)
        return self._fs

    @property
    def path(self) -> str:
        self.fs  # noqa: B018 - resolves the path too
        return self._path

    def _file(self, job_id: str) -> str:
        if not valid_job_id(job_id):
            raise ValueError(f"invalid job id {job_id!r}")
        return f"{self.path}/{job_id}.json"

    def write(self, status: JobStatus) -> None:
        self.fs.makedirs(self.path, exist_ok=True)
        target = self._file(status.job_id)
        tmp = f"{target}.{uuid.uuid4().hex[:6]}.tmp"
        with self.fs.open(tmp, "w") as fh:
            fh.write(status.model_dump_json(indent=1))
        self.fs.mv(tmp, target)

    def read(self, job_id: str) -> JobStatus | None:
        target = self._file(job_id)
        if not self.fs.exists(target):
            return None
        with self.fs.open(target, "r") as fh:
            return JobStatus.model_validate(json.load(fh))
