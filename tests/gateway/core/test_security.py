"""API keys: SHA-256 hashes with roles, constant-time lookup, key files, rotation, CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from spam_gateway.app.core import security
from spam_gateway.app.core.security import ApiKeyError, ApiKeyStore, Role, hash_key, new_key


def entries(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {"name": f"k{i}", "sha256": hash_key(key), "role": role}
        for i, (key, role) in enumerate(pairs)
    ]


def test_hash_is_hex_sha256() -> None:
    assert hash_key("secret") == hashlib.sha256(b"secret").hexdigest()


def test_inline_keys_authenticate_by_hash_and_carry_their_role() -> None:
    store = ApiKeyStore(inline=orjson.dumps(entries(("a", "viewer"), ("b", "operator"))).decode())
    assert store.authenticate("a").role is Role.viewer
    assert store.authenticate("b").role is Role.operator
    assert store.authenticate("c") is None
    assert store.authenticate("") is None
    assert store.authenticate(None) is None
    assert Role.operator.allows(Role.viewer)
    assert not Role.viewer.allows(Role.operator)


def test_every_stored_hash_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup does not stop at the first match (timing does not reveal the position)."""
    calls = []
    real = security.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", counting)
    store = ApiKeyStore(
        inline=orjson.dumps(entries(("a", "viewer"), ("b", "viewer"), ("c", "viewer"))).decode()
    )
    assert store.authenticate("a").name == "k0"
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"name": "x"}', "JSON list"),
        ("[]", "no API keys"),
        ('[{"name": "x", "sha256": "zz", "role": "viewer"}]', "malformed"),
        ('[{"name": "x", "sha256": "abcd", "role": "viewer"}]', "64 hex"),
        (f'[{{"name": "x", "sha256": "{"0" * 64}", "role": "admin"}}]', "malformed"),
    ],
)
def test_malformed_key_json_is_refused(text: str, message: str) -> None:
    with pytest.raises(ApiKeyError, match=message):
        ApiKeyStore(inline=text)


def test_key_file_is_read_and_reloaded_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "api-keys.json"
    path.write_bytes(orjson.dumps(entries(("old", "viewer"))))
    store = ApiKeyStore(path=path)
    assert store.authenticate("old") is not None
    path.write_bytes(orjson.dumps(entries(("new", "operator"), ("other", "viewer"))))
    os.utime(path, ns=(1, 1))  # a different stamp, as a rotated Secret has
    monkeypatch.setattr(security, "RELOAD_EVERY_S", 0.0)
    assert store.authenticate("new").role is Role.operator
    assert store.authenticate("old") is None
    path.write_text("half-written")  # a broken rotation keeps the last good keys
    os.utime(path, ns=(2, 2))
    assert store.authenticate("new") is not None


def test_missing_key_file_fails_fast(tmp_path: Path) -> None:
    with pytest.raises(ApiKeyError, match="cannot read"):
        ApiKeyStore(path=tmp_path / "absent.json")


def test_new_key_makes_a_random_key_and_its_entry() -> None:
    key, entry = new_key("ci", "operator")
    assert key.startswith("spk_") and len(key) > 40
    assert entry == {"name": "ci", "sha256": hash_key(key), "role": "operator"}
    assert new_key("ci")[0] != key
    with pytest.raises(ApiKeyError):
        new_key("ci", "root")


def test_cli_hash_key_prints_the_entry_and_keeps_the_key_off_stdout() -> None:
    script = Path(sys.executable).parent / "spam-gateway"
    done = subprocess.run(
        [str(script), "hash-key", "--name", "ci", "--role", "operator"],
        capture_output=True,
        text=True,
        check=True,
    )
    entry = orjson.loads(done.stdout)
    key = done.stderr.strip().rsplit(" ", 1)[-1]
    assert entry == {"name": "ci", "sha256": hash_key(key), "role": "operator"}
    given = subprocess.run(
        [str(script), "hash-key", "--name", "x", "--stdin"],
        input="my-key\n",
        capture_output=True,
        text=True,
        check=True,
    )
    assert orjson.loads(given.stdout)["sha256"] == hash_key("my-key")
    assert given.stderr == ""
