"""Typed settings shared by every image (environment variables prefixed ``SPAM_``)."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from spam_core.ingest.sources import PUBLIC_CORPUS_URL


def absolute_path(path: Path) -> Path:
    """``~`` expanded, made absolute against the current directory and normalized (no symlink
    resolution). Settings apply it once, when they are read, so no library (Ray's storage layer,
    Feast, MLflow, a child process started elsewhere) ever receives a relative path."""
    return Path(os.path.abspath(os.path.expanduser(path)))


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def absolute_location(location: str) -> str:
    """A location with a scheme (``abfs://…``, ``file:…``, ``models:/…``) stays as it is; a local
    path becomes absolute."""
    if _URL_SCHEME.match(location):
        return location
    return str(absolute_path(Path(location)))


AbsolutePath = Annotated[Path, AfterValidator(absolute_path)]
"""A local path setting: absolute once read (defaults included, with ``validate_default``)."""

Location = Annotated[str, AfterValidator(absolute_location)]
"""A setting that is a URL or a local path; local paths become absolute once read."""


SHARED_CORPUS = Path("..") / "shared" / "data" / "spamassassin"
"""Where a workspace checkout finds its local copy of the corpus (relative to the repo)."""

INFERENCE_LOGS_DIR = "inference-logs"
DRIFT_REPORTS_DIR = "drift-reports"
"""Under ``$SPAM_HOME`` on one machine: where the gateway writes the inference log and where the
drift job writes (and the gateway's ``/monitoring/drift`` reads) the drift reports."""


def settings_config(env_prefix: str) -> SettingsConfigDict:
    """How every settings class of the platform reads its environment: variables with
    ``env_prefix``, then a ``.env`` file; an empty variable counts as unset; unknown ones are
    ignored; defaults are validated too (local paths are made absolute once, defaults
    included)."""
    return SettingsConfigDict(
        env_prefix=env_prefix,
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        validate_default=True,
    )


class CoreSettings(BaseSettings):
    model_config = settings_config("SPAM_")

    home: AbsolutePath = Field(
        Path(".spam-platform"),
        description="Local state: datasets, features, models, logs (SPAM_HOME).",
    )
    corpus: Location | None = Field(
        None,
        description="Corpus source for ingest/train (SPAM_CORPUS): "
        "a path or an https:// base URL. Default: ../shared copy if "
        "present, else the public SpamAssassin corpus.",
    )
    cache_dir: AbsolutePath | None = Field(
        None, description="Download cache (SPAM_CACHE_DIR); default ~/.cache/spam-platform."
    )
    feast_repo: AbsolutePath | None = Field(
        None,
        description="Feast feature repository of the reputation features (SPAM_FEAST_REPO): "
        "a directory with feature_store.yaml. Default $SPAM_HOME/feast, created with a SQLite "
        "online store when missing.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    def resolved_corpus(self, cwd: Path | None = None) -> str:
        if self.corpus:
            return self.corpus
        base = cwd or Path.cwd()
        for candidate in (base / SHARED_CORPUS, base.parent / SHARED_CORPUS):
            if candidate.is_dir():
                return str(candidate.resolve())
        return PUBLIC_CORPUS_URL

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def features_dir(self) -> Path:
        return self.home / "features"

    @property
    def inference_log_dir(self) -> Path:
        return self.home / INFERENCE_LOGS_DIR

    @property
    def drift_reports_dir(self) -> Path:
        return self.home / DRIFT_REPORTS_DIR

    @property
    def resolved_feast_repo(self) -> Path:
        return self.feast_repo or self.home / "feast"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or Path.home() / ".cache" / "spam-platform"


@lru_cache
def get_settings() -> CoreSettings:
    return CoreSettings()
