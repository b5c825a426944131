"""Each model version's drift baseline (``drift_baseline.json``, written by training).

Looked up per version logged in the window, in this order:

1. an explicit ``VERSION=PATH`` (``--baseline``): a bundle directory, an MLflow model
   directory, or the ``drift_baseline.json`` file itself;
2. the model registry: ``--model-ref-template`` (default ``models:/{model_name}/{version}``),
   resolved with :func:`spam_core.bundle.resolve_model_ref` (needs ``MLFLOW_TRACKING_URI``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from spam_core.bundle import BASELINE_FILE, find_bundle_dir, is_registry_uri, resolve_model_ref
from spam_core.drift import DriftBaseline
from spam_core.errors import ArtifactError
from spam_drift.errors import DriftInputError

DEFAULT_MODEL_REF_TEMPLATE = "models:/{model_name}/{version}"


def parse_baseline_options(items: list[str] | None) -> dict[str, str]:
    """``["2=/path", "3=/other"]`` → ``{"2": "/path", "3": "/other"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        version, sep, path = item.partition("=")
        if not sep or not version.strip() or not path.strip():
            raise DriftInputError(f"--baseline {item!r}: expected VERSION=PATH")
        out[version.strip()] = path.strip()
    return out


def load_baseline_file(path: Path) -> DriftBaseline:
    try:
        return DriftBaseline.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise DriftInputError(f"{path}: drift baseline not found") from None
    except ValidationError as exc:
        raise DriftInputError(f"{path}: not a drift baseline ({exc.errors()[0]['msg']})") from None


class BaselineResolver:
    def __init__(
        self,
        explicit: Mapping[str, str] | None = None,
        *,
        model_ref_template: str = DEFAULT_MODEL_REF_TEMPLATE,
        cache_dir: Path | None = None,
    ) -> None:
        self.explicit = dict(explicit or {})
        self.template = model_ref_template
        self.cache_dir = cache_dir
        self._cache: dict[tuple[str, str], DriftBaseline] = {}

    def get(self, model_name: str, version: str) -> DriftBaseline:
        key = (model_name, version)
        if key not in self._cache:
            self._cache[key] = self._load(model_name, version)
        return self._cache[key]

    def _load(self, model_name: str, version: str) -> DriftBaseline:
        if version in self.explicit:
            path = Path(self.explicit[version]).expanduser()
            if path.is_dir():
                try:
                    path = find_bundle_dir(path) / BASELINE_FILE
                except ArtifactError as exc:
                    raise DriftInputError(f"baseline of version {version}: {exc}") from None
            return load_baseline_file(path)
        if not self.template:
            raise DriftInputError(
                f"no drift baseline for model version {version!r}: give --baseline "
                f"{version}=PATH or a --model-ref-template"
            )
        try:
            ref = self.template.format(model_name=model_name, version=version)
        except (KeyError, IndexError) as exc:
            raise DriftInputError(
                f"--model-ref-template {self.template!r}: unknown field {exc}; "
                "use {model_name} and {version}"
            ) from None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        try:
            bundle, _ = resolve_model_ref(ref, cache_dir=self.cache_dir)
        except ArtifactError as exc:
            raise DriftInputError(f"no drift baseline for model version {version}: {exc}") from None
        try:
            return load_baseline_file(bundle / BASELINE_FILE)
        finally:
            if is_registry_uri(ref):
                # resolve_model_ref downloads into a fresh temporary directory
                shutil.rmtree(_download_root(bundle), ignore_errors=True)


def _download_root(bundle: Path) -> Path:
    for parent in (bundle, *bundle.parents):
        if parent.name.startswith("spam-model-"):
            return parent
    return bundle
