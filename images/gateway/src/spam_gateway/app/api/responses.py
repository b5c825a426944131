"""OpenAPI documentation of the error responses the routes share."""

from __future__ import annotations

from typing import Any

from spam_gateway.app.models import ErrorOut

_E: dict[str, Any] = {"model": ErrorOut}

AUTH: dict[int | str, dict[str, Any]] = {
    401: {**_E, "description": "Missing or unknown X-API-Key"},
    403: {**_E, "description": "The key's role may not use this route"},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH,
    413: {**_E, "description": "Request body over the limit"},
    422: {**_E, "description": "Malformed JSON, missing fields, unknown X-Environment"},
    502: {**_E, "description": "The transformer answered something unusable"},
    503: {**_E, "description": "Transformer or Triton unavailable (see Retry-After)"},
    504: {**_E, "description": "The transformer did not answer in time"},
}
