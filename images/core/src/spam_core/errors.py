"""Domain errors of the core package (services map them to HTTP / exit codes)."""


class SpamCoreError(Exception):
    """Base class for every error raised on purpose by spam_core."""


class InvalidEmailError(SpamCoreError, ValueError):
    """The input cannot be turned into an e-mail record (wrong type, empty, too large)."""


class ArtifactError(SpamCoreError, ValueError):
    """A fitted feature artifact is missing, corrupt, or does not match this code."""


class SourceError(SpamCoreError, ValueError):
    """A corpus source cannot be read (unknown kind, missing path, bad checksum)."""
