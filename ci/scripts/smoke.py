#!/usr/bin/env python3
"""Smoke test of a running spam-platform gateway: the same script for the local platform
(`make test` runs it against the real local serving stack) and for staging/production (the
workflows run it after each deploy and rollback).

    python ci/scripts/smoke.py --url https://spam-api.example.com \
        --environment staging --expect-version staging=8 --environment production

Checks, in order: GET /health is healthy, GET /ready is ready, and for every --environment one
POST /predict (X-Environment) returns a valid prediction from that track, from the expected
model version where --expect-version names one. The API key comes from $SPAM_API_KEY (never
an argument: arguments end up in process lists and CI logs). Standard library only, so a bare
runner can run it. Exit 0 when every check passes, 1 with one line per failure otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

ENVIRONMENTS = ("staging", "production")
PREDICTION_FIELDS = {
    "email_id": str,
    "prediction": str,
    "spam_probability": float,
    "model_name": str,
    "model_version": str,
    "environment": str,
}
SAMPLE = {
    "email_id": "smoke-test",
    "subject": "WIN A FREE CRUISE!!! Claim your prize now",
    "body": "Congratulations! You have been selected. Click http://prize.example.com to claim.",
    "sender": "Prize Desk <winner@prize.example.com>",
}


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        (self.passed if ok else self.failures).append(what if ok else f"{what}: {detail}")
        return ok


def request(
    url: str,
    *,
    key: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Accept", "application/json")
    if data:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("X-API-Key", key)
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return status, raw[:200].decode(errors="replace")


def parse_expectations(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        env, sep, version = pair.partition("=")
        if not sep or env not in ENVIRONMENTS or not version.isdigit():
            raise SystemExit(f"--expect-version takes <staging|production>=<version>, not {pair!r}")
        out[env] = version
    return out


def run(
    url: str, key: str, environments: list[str], expected: dict[str, str], timeout: float
) -> Report:
    base = url.rstrip("/")
    report = Report()
    try:
        status, health = request(f"{base}/health", key=None, timeout=timeout)
    except OSError as exc:
        report.check(False, "GET /health", f"{base} unreachable ({exc})")
        return report
    report.check(
        status == 200 and isinstance(health, dict) and health.get("status") == "healthy",
        "GET /health",
        f"HTTP {status}: {health}",
    )
    status, ready = request(f"{base}/ready", key=None, timeout=timeout)
    report.check(
        status == 200 and isinstance(ready, dict) and ready.get("ready") is True,
        "GET /ready",
        f"HTTP {status}: {ready}",
    )
    for env in environments:
        what = f"POST /predict ({env})"
        status, body = request(
            f"{base}/predict",
            key=key,
            body=SAMPLE,
            headers={"X-Environment": env},
            timeout=timeout,
        )
        if not report.check(
            status == 200 and isinstance(body, dict), what, f"HTTP {status}: {body}"
        ):
            continue
        wrong = [k for k, t in PREDICTION_FIELDS.items() if not isinstance(body.get(k), t)]
        if not report.check(not wrong, what, f"missing or mistyped fields {wrong}: {body}"):
            continue
        report.check(body["environment"] == env, what, f"answered by track {body['environment']}")
        report.check(
            body["prediction"] in ("spam", "ham") and 0.0 <= body["spam_probability"] <= 1.0,
            what,
            f"not a prediction: {body}",
        )
        if env in expected:
            report.check(
                body["model_version"] == expected[env],
                f"{what} model version",
                f"v{body['model_version']} serves {env}, expected v{expected[env]}",
            )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Gateway base URL")
    parser.add_argument(
        "--environment",
        action="append",
        choices=ENVIRONMENTS,
        dest="environments",
        help="Track to predict with (repeatable; default: both)",
    )
    parser.add_argument(
        "--expect-version",
        action="append",
        default=[],
        metavar="ENV=VERSION",
        help="Fail unless that track serves this model version (repeatable)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="Seconds per request")
    parser.add_argument(
        "--retries", type=int, default=0, help="Retry the whole check this many times (rollouts)"
    )
    parser.add_argument("--retry-delay", type=float, default=10.0, help="Seconds between retries")
    args = parser.parse_args(argv)
    key = os.environ.get("SPAM_API_KEY", "")
    if not key:
        print("SPAM_API_KEY is not set (a viewer API key of the gateway)", file=sys.stderr)
        return 2
    expected = parse_expectations(args.expect_version)
    environments = args.environments or list(ENVIRONMENTS)
    for attempt in range(args.retries + 1):
        report = run(args.url, key, environments, expected, args.timeout)
        if not report.failures:
            break
        if attempt < args.retries:
            time.sleep(args.retry_delay)
    for line in report.passed:
        print(f"ok    {line}")
    for line in report.failures:
        print(f"FAIL  {line}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
