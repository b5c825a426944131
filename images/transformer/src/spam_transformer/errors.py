"""Domain errors of the transformer (KServe's ``errors.py`` pattern).

They carry a stable machine-readable ``code``, a message and optional ``details`` and know
nothing about HTTP: ``protocol/rest/server.py`` maps each class to a status code in one table.
"""

from __future__ import annotations

from typing import Any


class TransformerError(Exception):
    """Base class of every error the transformer raises on purpose."""

    code = "transformer_error"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(TransformerError):
    """The request cannot be served as given (shape, batch size, an unparseable e-mail)."""

    code = "invalid_input"


class UnknownEnvironment(InvalidInput):
    """The request names a model track this transformer does not serve."""

    code = "unknown_environment"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"


class ModelNotReady(TransformerError):
    """A track's artifacts are not loaded (the process is starting or its load failed)."""

    code = "model_not_ready"


class PredictorUnavailable(TransformerError):
    """Triton cannot be reached, refused the call, or the model is not loaded there."""

    code = "predictor_unavailable"


class PredictorTimeout(PredictorUnavailable):
    """Triton did not answer within ``TRITON_TIMEOUT_S``."""

    code = "predictor_timeout"


class PredictorError(TransformerError):
    """Triton answered with an error that retrying will not fix (a contract mismatch)."""

    code = "predictor_error"
