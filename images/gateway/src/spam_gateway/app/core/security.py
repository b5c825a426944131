"""API keys: stored as SHA-256 hashes with a role, checked in constant time.

The key file is JSON, ``[{"name": "ci", "sha256": "<hex>", "role": "viewer"}, …]``; in the
cluster it is mounted from a Secret (``SPAM_GATEWAY_API_KEYS_FILE``), locally it is a file or
the same JSON in ``SPAM_GATEWAY_API_KEYS``. Plain keys are never stored: ``hash_key`` /
``new_key`` (and ``spam-gateway hash-key``) produce the entries.

Roles: ``viewer`` may predict; ``reporter`` may also report feedback (``POST /feedback``:
its labels move sender reputations, so a read-only key cannot); ``operator`` may also run
batch jobs and read the admin routes. Each role implies the ones before it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import orjson

RELOAD_EVERY_S = 10.0
"""How often a key file is checked for changes (a rotated Secret reaches running pods)."""


class Role(IntEnum):
    viewer = 1
    reporter = 2
    operator = 3

    def allows(self, required: Role) -> bool:
        return self >= required


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    role: Role
    sha256: bytes


class ApiKeyError(ValueError):
    """The key file or JSON is unreadable or malformed."""


def hash_key(key: str) -> str:
    """Hex SHA-256 of a plain API key (what the key file stores)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(name: str, role: str = "viewer", key: str | None = None) -> tuple[str, dict[str, str]]:
    """A fresh random key (or ``key``) and its key-file entry."""
    if role not in Role.__members__:
        raise ApiKeyError(f"unknown role {role!r} ({', '.join(Role.__members__)})")
    key = key or "spk_" + secrets.token_urlsafe(32)
    return key, {"name": name, "sha256": hash_key(key), "role": role}


def parse_keys(text: str | bytes) -> tuple[ApiKey, ...]:
    try:
        entries = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiKeyError(f"API keys are not valid JSON: {exc}") from None
    if not isinstance(entries, list):
        raise ApiKeyError('API keys must be a JSON list of {"name", "sha256", "role"}')
    keys = []
    for i, entry in enumerate(entries):
        try:
            digest = bytes.fromhex(entry["sha256"])
            role = Role[entry["role"]]
            name = str(entry["name"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiKeyError(
                f"API key entry {i} is malformed ({type(exc).__name__}: {exc})"
            ) from None
        if len(digest) != 32:
            raise ApiKeyError(f"API key entry {i} ({name}): sha256 must be 64 hex characters")
        keys.append(ApiKey(name=name, role=role, sha256=digest))
    if not keys:
        raise ApiKeyError("no API keys configured")
    return tuple(keys)


class ApiKeyStore:
    """The configured keys; a key file is re-read when it changes (checked every 10 s)."""

    def __init__(self, *, path: Path | None = None, inline: str | None = None) -> None:
        if path is None and inline is None:
            raise ApiKeyError("no API keys configured (a key file or inline JSON)")
        self._path = path
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._stamp: tuple[int, int] | None = None
        if path is not None:
            self._keys = self._read_file()
        else:
            self._keys = parse_keys(inline or "")

    def _read_file(self) -> tuple[ApiKey, ...]:
        assert self._path is not None
        try:
            stat = os.stat(self._path)
            keys = parse_keys(self._path.read_bytes())
        except OSError as exc:
            raise ApiKeyError(f"cannot read API keys file {self._path}: {exc}") from None
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        return keys

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if self._path is None or now - self._checked < RELOAD_EVERY_S:
            return
        with self._lock:
            if now - self._checked < RELOAD_EVERY_S:
                return
            self._checked = now
            try:
                stat = os.stat(self._path)
                if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                    self._keys = self._read_file()
            except (OSError, ApiKeyError):
                pass  # keep the last good keys; a half-written rotation is retried next time

    def authenticate(self, presented: str | None) -> ApiKey | None:
        """The key matching ``presented``; every stored hash is compared (constant time)."""
        if not presented:
            return None
        self._maybe_reload()
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.sha256) and found is None:
                found = key
        return found

    def __len__(self) -> int:
        return len(self._keys)
