"""Where batch jobs may read and write: one rule, used by the gateway (422 before a job is
created) and by the job itself (refused before anything is read), so a job never reads or
writes outside the configured locations, whoever started it.

A location is allowed when it lies under one of the allowed roots:

* a local root (an absolute directory): the location is an absolute local path (no scheme),
  with no ``..`` segment, under the root once symlinks are resolved on both sides;
* an ``abfs://<container>[@<account host>][/<prefix>]`` root: the location is ``abfs://`` with
  exactly the same container and account part (none when the root names none: the configured
  account) and under the prefix, so a job cannot be pointed at another storage account.

Everything else is refused with the reason: another scheme (``file:``, ``http:``, ``s3:``…),
a relative path, control characters or spaces, a path outside every root, or no roots at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

_SAFE = re.compile(r"[A-Za-z0-9_./:@=+%~-]{1,1024}")
"""What may stand in a location (it is pasted into a command line and a YAML template)."""
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):.*", re.DOTALL)


class LocationRefused(ValueError):
    """The location is not allowed; the message says why."""


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _under(path: list[str], root: list[str]) -> bool:
    return path[: len(root)] == root


def _split_abfs(value: str) -> tuple[str, list[str]]:
    parts = urlsplit(value)
    if parts.query or parts.fragment or not parts.netloc:
        raise LocationRefused(f"{value!r} is not abfs://<container>/<path>")
    return parts.netloc.lower(), _segments(parts.path)


def confine(location: str, roots: Sequence[str], what: str = "location") -> str:
    """``location`` when it lies under one of ``roots``; ``LocationRefused`` saying why."""
    if not _SAFE.fullmatch(location):
        raise LocationRefused(
            f"{what} may contain only letters, digits and _ . / : @ = + % ~ - "
            "(no spaces, quotes or control characters), 1 to 1024 of them"
        )
    if ".." in location.split("/"):
        raise LocationRefused(f"{what} may not contain '..' segments")
    if not roots:
        raise LocationRefused(f"no allowed locations are configured for {what}")
    scheme = _SCHEME.fullmatch(location)
    if scheme is not None:
        if scheme.group(1).lower() != "abfs":
            raise LocationRefused(
                f"{what}: the scheme {scheme.group(1)!r} is not allowed (a local path or abfs://)"
            )
        container, path = _split_abfs(location)
        for root in roots:
            if root.lower().startswith("abfs://"):
                root_container, root_path = _split_abfs(root)
                if container == root_container and _under(path, root_path):
                    return location
    else:
        if not location.startswith("/"):
            raise LocationRefused(f"{what} must be an absolute path or an abfs:// URL")
        path = _segments(os.path.realpath(location))
        for root in roots:
            if root.startswith("/") and _under(path, _segments(os.path.realpath(root))):
                return location
    raise LocationRefused(f"{what} {location!r} is outside the allowed locations {list(roots)}")
