"""The Postman collection of the API (``ci/postman/``) run with newman against a real gateway.

newman comes from npm into ``.tools`` (``ci/scripts/install-tools.sh``, run by ``make setup``).
:func:`run_collection` runs the collection with one of the environment files, its ``baseUrl``
and ``apiKey`` replaced by the gateway under test, and returns newman's JSON report;
:func:`assert_passed` fails with every failed assertion named.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.utils.paths import REPO

POSTMAN = REPO / "ci" / "postman"
COLLECTION = POSTMAN / "spam-platform.postman_collection.json"
ENVIRONMENTS = {
    "staging": POSTMAN / "staging.postman_environment.json",
    "production": POSTMAN / "production.postman_environment.json",
}
NEWMAN_BIN = REPO / ".tools" / "node_modules" / ".bin" / "newman"


def newman_or_skip() -> Path:
    if not NEWMAN_BIN.is_file():
        pytest.skip(f"newman not installed at {NEWMAN_BIN} (run ci/scripts/install-tools.sh)")
    return NEWMAN_BIN


def requests(collection: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every request item of the collection (folders flattened), in run order."""
    found: list[dict[str, Any]] = []
    stack = list(reversed((collection or load_collection())["item"]))
    while stack:
        item = stack.pop()
        if "item" in item:
            stack.extend(reversed(item["item"]))
        else:
            found.append(item)
    return found


def load_collection() -> dict[str, Any]:
    return json.loads(COLLECTION.read_text())


def operations(collection: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every request, the path without ``{{baseUrl}}`` and query."""
    out = set()
    for item in requests(collection):
        request = item["request"]
        raw = request["url"]["raw"].removeprefix("{{baseUrl}}").split("?", 1)[0]
        out.add((request["method"], raw))
    return out


def covers(operations_: set[tuple[str, str]], method: str, template: str) -> bool:
    """Whether a request of the collection calls the OpenAPI operation ``method template``
    (a ``{param}`` of the template matches one path segment, a ``{{variable}}`` included)."""
    pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
    return any(m == method and pattern.match(path) for m, path in operations_)


def run_collection(
    base_url: str, api_key: str, environment: str, out_dir: Path, timeout: float = 300
) -> dict[str, Any]:
    """newman's JSON report of one run of the collection against ``base_url``."""
    exe = newman_or_skip()
    report = out_dir / f"newman-{environment}.json"
    done = subprocess.run(
        [
            str(exe),
            "run",
            str(COLLECTION),
            "--environment",
            str(ENVIRONMENTS[environment]),
            "--env-var",
            f"baseUrl={base_url}",
            "--env-var",
            f"apiKey={api_key}",
            "--reporters",
            "cli,json",
            "--reporter-json-export",
            str(report),
            "--color",
            "off",
            "--disable-unicode",
            "--timeout-request",
            "60000",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=out_dir,
        check=False,
    )
    if not report.is_file():
        raise AssertionError(
            f"newman wrote no report:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
        )
    result = json.loads(report.read_text())
    result["_exit_code"] = done.returncode
    result["_output"] = done.stdout[-6000:] + done.stderr[-2000:]
    return result


def assert_passed(result: dict[str, Any]) -> None:
    """Every request ran, answered, and every one of its tests passed."""
    run = result["run"]
    failures = [
        f"{f.get('source', {}).get('name')}: {f['error'].get('test') or ''} "
        f"{f['error'].get('message')}"
        for f in run["failures"]
    ]
    assert not failures and result["_exit_code"] == 0, "\n".join(failures) + result["_output"]
    stats = run["stats"]
    assert stats["requests"]["total"] == len(requests()), stats
    assert stats["requests"]["failed"] == 0 and stats["assertions"]["failed"] == 0, stats
    # each request has at least its own status test plus the collection-level checks
    assert stats["assertions"]["total"] >= 2 * len(requests()), stats
