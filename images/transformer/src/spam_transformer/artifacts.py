"""A track's artifacts: ``features.json`` and the ``bundle.json`` next to it.

``features.json`` (fitted feature artifacts) is what the transformer computes features with;
``bundle.json`` (:class:`spam_core.bundle.BundleMeta`) gives the decision threshold, the model
name and version, and the fingerprint the two must share, so a transformer never pairs a model
with another model's vocabulary. Locations: a local path or ``file://`` URL, ``https://`` (read
with httpx; an Azure Blob URL gets a workload-identity token when ``azure-identity`` is
installed; a SAS query string is kept for the sibling file), or any other fsspec URL when
``fsspec`` (with its protocol's package) is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from spam_core import artifacts as core_artifacts
from spam_core.artifacts import FeatureArtifacts
from spam_core.bundle import BUNDLE_META, BundleMeta
from spam_core.errors import ArtifactError
from spam_core.features import N_FEATURES

HTTP_TIMEOUT_S = 30.0
AZURE_STORAGE_SCOPE = "https://storage.azure.com/.default"
AZURE_API_VERSION = "2025-11-05"


@dataclass(frozen=True, slots=True)
class TrackArtifacts:
    features: FeatureArtifacts
    meta: BundleMeta
    features_uri: str
    meta_uri: str


def sibling_uri(uri: str, name: str) -> str:
    """The URI of ``name`` in the folder of ``uri`` (query strings such as a SAS are kept)."""
    if "://" not in uri or uri.startswith("file://"):
        return str(Path(uri.removeprefix("file://")).parent / name)
    parts = urlsplit(uri)
    folder = parts.path.rsplit("/", 1)[0]
    return urlunsplit(parts._replace(path=f"{folder}/{name}"))


def _azure_headers(uri: str) -> dict[str, str]:
    host = urlsplit(uri).hostname or ""
    if not host.endswith(".blob.core.windows.net") or "sig=" in uri:
        return {}
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:  # anonymous read (public container) or a SAS in the URI
        return {}
    token = DefaultAzureCredential().get_token(AZURE_STORAGE_SCOPE).token
    return {"Authorization": f"Bearer {token}", "x-ms-version": AZURE_API_VERSION}


def _read_https(uri: str) -> bytes:
    import httpx

    try:
        response = httpx.get(uri, headers=_azure_headers(uri), timeout=HTTP_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise ArtifactError(f"{uri}: cannot read ({exc})") from exc
    if response.status_code == 404:
        raise ArtifactError(f"{uri}: not found")
    if response.status_code != 200:
        raise ArtifactError(f"{uri}: HTTP {response.status_code}")
    return response.content


def read_bytes(uri: str) -> bytes:
    if uri.startswith(("https://", "http://")):
        return _read_https(uri)
    if "://" in uri and not uri.startswith("file://"):
        try:
            import fsspec
        except ImportError as exc:
            raise ArtifactError(
                f"{uri}: this URL scheme needs fsspec (and its protocol package) installed"
            ) from exc
        try:
            with fsspec.open(uri, "rb") as fh:
                return fh.read()
        except FileNotFoundError as exc:
            raise ArtifactError(f"{uri}: not found") from exc
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise ArtifactError(f"{path}: not found")
    return path.read_bytes()


def load_track_artifacts(features_uri: str) -> TrackArtifacts:
    """Load and cross-check ``features.json`` and its ``bundle.json``; ArtifactError if wrong."""
    if features_uri.startswith(("https://", "http://")):
        features = core_artifacts.loads(_read_https(features_uri), features_uri)
    else:
        features = core_artifacts.load(features_uri)
    meta_uri = sibling_uri(features_uri, BUNDLE_META)
    try:
        meta = BundleMeta.model_validate_json(read_bytes(meta_uri))
    except ValidationError as exc:
        raise ArtifactError(
            f"{meta_uri}: invalid bundle metadata: {exc.errors()[0]['msg']}"
        ) from None
    if meta.features_fingerprint != features.fingerprint:
        raise ArtifactError(
            f"{features_uri} does not belong to the model of {meta_uri} (fingerprint "
            f"{features.fingerprint[:12]} != {meta.features_fingerprint[:12]})"
        )
    if meta.n_features != N_FEATURES:
        raise ArtifactError(
            f"{meta_uri}: the model takes {meta.n_features} features, this transformer computes "
            f"{N_FEATURES} (spam_core.features.spec)"
        )
    return TrackArtifacts(features, meta, features_uri, meta_uri)


def load_explainer(features_uri: str, feature_names: list[str]):
    """The track's ``xgboost.json`` (next to ``features.json``, as in the bundle) as a
    ``spam_core.explain.Explainer``."""
    from spam_core.bundle import XGBOOST_FILE
    from spam_core.explain import Explainer

    return Explainer(read_bytes(sibling_uri(features_uri, XGBOOST_FILE)), feature_names)
