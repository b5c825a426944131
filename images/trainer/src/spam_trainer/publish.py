"""Publishing a registered model version where the serving components read it.

The chart's InferenceServices and transformers read one folder per model version from the
models container (``charts/spam-platform/charts/spam-common/templates/_model.tpl``)::

    <location>/<model>/v<version>/
        triton/<model>/config.pbtxt      the InferenceService storageUri is .../triton
        triton/<model>/1/model.onnx
        features.json                    the transformer's fitted feature artifacts
        bundle.json                      metadata (model_version = the registry version)
        model.onnx, xgboost.json, drift_baseline.json, ...   the rest of the bundle
        manifest.json                    every file above with its SHA-256 and size

``<location>`` is a local directory or an ``abfs://<container>[/<prefix>]`` URL (adlfs;
credentials: a connection string when given, e.g. Azurite, else ``AZURE_STORAGE_ACCOUNT_NAME``
with ``DefaultAzureCredential`` — the workload identity in the cluster, ``azure/login`` in a
workflow).

Idempotent: a file whose stored copy already has the same SHA-256 is not uploaded again, and
the manifest is rewritten only when its content changes, so publishing a version twice uploads
nothing the second time. Verified: every uploaded file is read back and hashed; the manifest is
written last, so a version is published exactly when its manifest exists and every file it
lists reads back with its checksum (:func:`check_published`). Promotion and rollback refuse a
version that is not published (:func:`require_published`) whenever a location is configured.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from spam_core.bundle import (
    BUNDLE_META,
    FEATURES_FILE,
    TRITON_DIR,
    BundleMeta,
    find_bundle_dir,
    read_meta,
)
from spam_core.storage import AZURE_PROTOCOLS, Location, open_location, protocol_of

MANIFEST = "manifest.json"
MANIFEST_KIND = "spam-platform/published-model"


class PublishError(RuntimeError):
    """The version cannot be published, or is not (completely) published."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Store(Location):
    """A publish location (:class:`spam_core.storage.Location`: ``root`` is the filesystem
    path of ``url``) and where a model version goes in it."""

    def version_path(self, model_name: str, version: str) -> str:
        return f"{self.root}/{model_name}/v{version}"

    def version_url(self, model_name: str, version: str) -> str:
        return f"{self.url.rstrip('/')}/{model_name}/v{version}"


def _storage_errors() -> tuple[type[BaseException], ...]:
    """What a store raises when it is unreachable, refuses the credentials or lacks the
    container: turned into a PublishError naming the location."""
    try:
        from azure.core.exceptions import AzureError
    except ImportError:  # pragma: no cover - adlfs brings azure-core
        return (OSError,)
    return (OSError, AzureError)


def open_store(url: str, *, connection_string: str | None = None) -> Store:
    """A local directory (absolute or relative) or ``abfs://<container>[/<prefix>]``."""
    if not url:
        raise PublishError("no publish location (set SPAM_PUBLISH_URL or pass --to)")
    protocol = protocol_of(url)
    if protocol not in (*AZURE_PROTOCOLS, "file"):
        raise PublishError(f"{url}: a publish location is a local directory or abfs:// URL")
    location = open_location(url, connection_string=connection_string)
    if protocol in AZURE_PROTOCOLS and not location.root:
        raise PublishError(f"{url}: name a container (abfs://<container>[/<prefix>])")
    return Store(url=location.url, fs=location.fs, root=location.root)


# --------------------------------------------------------------------------- what is published
def bundle_files(bundle_dir: Path, *, model_name: str, version: str) -> dict[str, bytes]:
    """``{relative path: bytes}`` of a registered version's bundle, checked before upload: the
    Triton repository is servable under ``model_name`` and ``bundle.json`` names the version."""
    from spam_trainer.triton import validate_model_repository

    root = find_bundle_dir(Path(bundle_dir))
    meta = read_meta(root)
    if meta.model_name != model_name:
        raise PublishError(
            f"{root}: the bundle is model {meta.model_name!r}, not {model_name!r} (the chart's "
            "global.model.name is also the Triton model name)"
        )
    problems = validate_model_repository(root / TRITON_DIR, model_name=model_name)
    if problems:
        raise PublishError(f"{root / TRITON_DIR}: not servable: {'; '.join(problems)}")
    if not (root / FEATURES_FILE).is_file():
        raise PublishError(f"{root}: no {FEATURES_FILE}")
    files: dict[str, bytes] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST or "__pycache__" in rel.split("/"):
            continue
        files[rel] = path.read_bytes()
    meta.model_version = str(version)
    files[BUNDLE_META] = (json.dumps(meta.model_dump(mode="json"), indent=1) + "\n").encode()
    return files


def _manifest(files: dict[str, bytes], model_name: str, version: str, run_id: str | None) -> dict:
    return {
        "kind": MANIFEST_KIND,
        "model_name": model_name,
        "model_version": str(version),
        "run_id": run_id,
        "files": {rel: {"sha256": sha256(b), "size": len(b)} for rel, b in sorted(files.items())},
    }


@dataclass
class PublishResult:
    url: str
    model_name: str
    version: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    verified: int = 0
    bytes_uploaded: int = 0


def publish_files(
    store: Store, files: dict[str, bytes], *, model_name: str, version: str, run_id: str | None
) -> PublishResult:
    """Upload what differs, read every uploaded file back, then the manifest (last)."""
    for rel in files:
        if rel.startswith("/") or ".." in PurePosixPath(rel).parts:
            raise PublishError(f"refusing to publish a file outside the version folder: {rel}")
    prefix = store.version_path(model_name, version)
    result = PublishResult(store.version_url(model_name, version), model_name, str(version))
    manifest = _manifest(files, model_name, version, run_id)
    for rel, data in sorted(files.items()):
        path = f"{prefix}/{rel}"
        stored = store.read_bytes(path)
        if stored is not None and sha256(stored) == manifest["files"][rel]["sha256"]:
            result.unchanged.append(rel)
            continue
        store.write_bytes(path, data)
        result.uploaded.append(rel)
        result.bytes_uploaded += len(data)
    for rel in result.uploaded:  # read back what was written
        stored = store.read_bytes(f"{prefix}/{rel}")
        if stored is None or sha256(stored) != manifest["files"][rel]["sha256"]:
            raise PublishError(
                f"{result.url}/{rel}: the stored copy does not match after upload "
                f"({'missing' if stored is None else 'checksum differs'})"
            )
        result.verified += 1
    result.verified += len(result.unchanged)  # hashed when compared above
    old = _read_manifest(store, prefix)
    if old is None or {k: v for k, v in old.items() if k != "published_at"} != manifest:
        manifest["published_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        body = (json.dumps(manifest, indent=1) + "\n").encode()
        store.write_bytes(f"{prefix}/{MANIFEST}", body)
        if store.read_bytes(f"{prefix}/{MANIFEST}") != body:
            raise PublishError(f"{result.url}/{MANIFEST}: not stored as written")
        result.uploaded.append(MANIFEST)
        result.bytes_uploaded += len(body)
    else:
        result.unchanged.append(MANIFEST)
    return result


def _read_manifest(store: Store, prefix: str) -> dict | None:
    data = store.read_bytes(f"{prefix}/{MANIFEST}")
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except ValueError:
        return None
    if isinstance(manifest, dict) and manifest.get("kind") == MANIFEST_KIND:
        return manifest
    return None


def publish_bundle(
    bundle_dir: Path,
    location: str,
    *,
    model_name: str,
    version: str,
    connection_string: str | None = None,
    run_id: str | None = None,
) -> PublishResult:
    """Publish an exported bundle as registry version ``version`` (the KFP register step)."""
    files = bundle_files(bundle_dir, model_name=model_name, version=version)
    run_id = run_id or BundleMeta.model_validate_json(files[BUNDLE_META]).run_id
    try:
        store = open_store(location, connection_string=connection_string)
        return publish_files(store, files, model_name=model_name, version=version, run_id=run_id)
    except _storage_errors() as exc:
        raise PublishError(f"{location}: cannot publish there: {exc}") from None


def publish_version(
    model_name: str, version: str, location: str, *, connection_string: str | None = None
) -> PublishResult:
    """Download registry version ``models:/<model_name>/<version>`` and publish it."""
    import shutil
    import tempfile

    import mlflow
    from mlflow.exceptions import MlflowException

    from spam_core.bundle import resolve_model_ref
    from spam_core.errors import ArtifactError

    tmp = Path(tempfile.mkdtemp(prefix="spam-publish-"))
    try:
        try:
            run_id = mlflow.MlflowClient().get_model_version(model_name, version).run_id
            bundle_dir, _ = resolve_model_ref(f"models:/{model_name}/{version}", tmp)
        except MlflowException as exc:
            raise PublishError(f"models:/{model_name}/{version}: {exc.message}") from None
        except ArtifactError as exc:
            raise PublishError(str(exc)) from None
        return publish_bundle(
            bundle_dir,
            location,
            model_name=model_name,
            version=version,
            connection_string=connection_string,
            run_id=run_id,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- is it published?
def check_published(store: Store, model_name: str, version: str) -> list[str]:
    """Why ``version`` is not completely published at ``store`` (empty: it is, verified)."""
    prefix = store.version_path(model_name, version)
    where = store.version_url(model_name, version)
    manifest = _read_manifest(store, prefix)
    if manifest is None:
        return [f"{where}: no {MANIFEST} (run `spam-platform publish --version {version}`)"]
    if manifest.get("model_name") != model_name or manifest.get("model_version") != str(version):
        return [f"{where}/{MANIFEST} describes another model version"]
    problems = []
    for rel, entry in manifest.get("files", {}).items():
        stored = store.read_bytes(f"{prefix}/{rel}")
        if stored is None:
            problems.append(f"{where}/{rel}: missing")
        elif sha256(stored) != entry.get("sha256"):
            problems.append(f"{where}/{rel}: checksum differs from the manifest")
    for required in (f"{TRITON_DIR}/{model_name}/config.pbtxt", FEATURES_FILE, BUNDLE_META):
        if required not in manifest.get("files", {}):
            problems.append(f"{where}: {required} is not published")
    return problems


def require_published(
    location: str | None, model_name: str, version: str, *, connection_string: str | None = None
) -> None:
    """The one rule of promotion and rollback: a track only ever points at a published version
    (checked when a publish location is configured)."""
    if not location:
        return
    try:
        store = open_store(location, connection_string=connection_string)
        problems = check_published(store, model_name, version)
    except _storage_errors() as exc:
        raise PublishError(f"{location}: cannot check the publication there: {exc}") from None
    if problems:
        raise PublishError(
            f"{model_name} v{version} is not published where the serving components read it: "
            + "; ".join(problems)
        )
