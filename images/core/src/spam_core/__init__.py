"""spam-platform core: one implementation of e-mail parsing and features.

Training, the feature transformer, batch scoring and drift all import this package,
so a feature can never be computed two ways. It has no web-framework or CLI imports.
"""

from importlib import metadata

try:
    __version__ = metadata.version("spam-core")
except metadata.PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"
