"""OpenAPI documentation of the error responses the routes share."""

from __future__ import annotations

from typing import Any

from spam_gateway.app.models import ErrorOut

_E: dict[str, Any] = {"model": ErrorOut}

AUTH: dict[int | str, dict[str, Any]] = {
    400: {**_E, "description": "Malformed HTTP request"},
    401: {**_E, "description": "Missing or unknown X-API-Key"},
    403: {**_E, "description": "The key's role may not use this route"},
    429: {
        **_E,
        "description": "Too many failed authentications from this client, or the key's "
        "quota is spent (see Retry-After)",
    },
}
BODY: dict[int | str, dict[str, Any]] = {
    408: {**_E, "description": "The request body was not received in time"},
    413: {**_E, "description": "Request body over the limit"},
    422: {
        **_E,
        "description": "Malformed JSON or UTF-8, missing fields, unknown X-Environment, an "
        "e-mail over a parsing limit (details name it)",
    },
}
ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH,
    **BODY,
    502: {**_E, "description": "The transformer answered something unusable"},
    503: {**_E, "description": "Transformer or Triton unavailable (see Retry-After)"},
    504: {**_E, "description": "The transformer did not answer in time"},
}
BATCH: dict[int | str, dict[str, Any]] = {
    **AUTH,
    **BODY,
    404: {**_E, "description": "No such batch job"},
    503: {**_E, "description": "Async batch jobs are disabled or cannot be submitted"},
}
