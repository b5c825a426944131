"""spam-platform API gateway: authenticated /predict in front of the feature transformer.

Layout follows the FastAPI full-stack template: ``app/main.py`` builds the application,
``app/core`` holds settings and security, ``app/api`` the dependencies and thin routes,
``app/inference_log`` the asynchronous Parquet inference log.
"""

from importlib import metadata

try:
    __version__ = metadata.version("spam-gateway")
except metadata.PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0.0.0"

API_VERSION = "1"
"""Version of the HTTP API's contract (GET /info), apart from the package version: it changes
when a route, field or status changes meaning."""
