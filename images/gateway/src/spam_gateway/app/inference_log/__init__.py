"""Inference log: every answered prediction as a Parquet row in blob storage (asynchronous)."""

from spam_gateway.app.inference_log.logger import InferenceLogger
from spam_gateway.app.inference_log.store import LogStore

__all__ = ["InferenceLogger", "LogStore"]
