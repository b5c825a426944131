"""Errors of the drift job; the CLI maps them to exit codes (never a traceback)."""

from __future__ import annotations


class DriftError(Exception):
    """Base class of the drift job's own errors."""

    exit_code = 1


class DriftInputError(DriftError, ValueError):
    """Bad input or configuration: no logs, a corrupt file, a missing baseline, a bad window,
    an unusable option. Exit code 2."""

    exit_code = 2


class DriftOutputError(DriftError):
    """A report could not be written (the job ran; its result was lost). Exit code 1."""
