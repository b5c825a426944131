"""docs/MIGRATION.md is held to the code: every route, error code and metric of the gateway
and the transformer is in it, and what its "now" columns name exists (rows marked † describe
API of the gateway branch of issue 13 and are exempt until it is merged)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MIGRATION = REPO / "docs" / "MIGRATION.md"
GATEWAY_SRC = REPO / "images" / "gateway" / "src" / "spam_gateway"
NEW = "†"
FRAMEWORK_ROUTES = {("GET", "/docs"), ("GET", "/openapi.json")}
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
CODE = re.compile(r"`([^`\n]+)`")


def sections() -> dict[str, str]:
    """'## ' heading → its text."""
    parts = re.split(r"^## (.+)$", MIGRATION.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def table(section: str) -> list[list[str]]:
    """The rows of the section's table (header and rule left out), cells split on `|`."""
    rows = []
    for line in sections()[section].splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return [r for r in rows[2:] if r]


def gateway_routes() -> set[tuple[str, str]]:
    from spam_gateway.app.api.main import ROUTERS  # their routes carry the full paths

    routes = {(m, r.path) for router in ROUTERS for r in router.routes for m in r.methods}
    assert ("POST", "/predict") in routes and ("GET", "/predict/batch/{job_id}") in routes
    return routes


def gateway_error_codes() -> set[str]:
    from spam_gateway.app.api.errors import HTTP_CODES

    codes = set(HTTP_CODES.values())
    for path in GATEWAY_SRC.rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r"\bcode\s*=\s*\"([a-z_]+)\"", text))
        codes |= set(re.findall(r"error_response\(\s*\w+,\s*\d+,\s*\"([a-z_]+)\"", text))
    return codes


def exported_metrics() -> set[str]:
    """Scraped sample families of the gateway and the transformer: counters with `_total`."""
    from tests.charts.exported import service_registries

    names = set()
    for registry in service_registries():
        for family in registry.collect():
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def test_every_gateway_route_is_in_the_routes_table():
    listed = {m.groups() for row in table("Routes") for m in ROUTE.finditer(row[1])}
    assert gateway_routes() - listed == set()


def test_every_route_the_table_names_now_exists():
    real = gateway_routes() | FRAMEWORK_ROUTES
    for _original, now, *_ in table("Routes"):
        if NEW in now:
            continue
        for method, path in (m.groups() for m in ROUTE.finditer(now)):
            assert (method, path) in real, (method, path)


def test_every_error_code_is_in_the_table():
    rows = table("Error codes")
    listed = {c for row in rows for c in CODE.findall(row[1])}
    codes = gateway_error_codes()
    assert {"unauthenticated", "invalid_environment", "quota_exceeded", "internal_error"} <= codes
    assert codes - listed == set()
    stale = {c for row in rows if NEW not in row[1] for c in CODE.findall(row[1])} - codes
    assert stale == set()


def test_every_metric_is_in_the_table():
    listed = {c for row in table("Metrics") for c in CODE.findall(row[0])}
    exported = exported_metrics()
    assert "spam_transformer_reputation_store_up" in exported
    assert exported - listed == set()
    stale = {c for row in table("Metrics") if NEW not in row[0] for c in CODE.findall(row[0])}
    assert stale - exported == set()


@pytest.mark.parametrize("section", ["Settings", "Headers", "Fields", "Error codes"])
def test_every_gateway_setting_named_exists(section):
    from spam_gateway.app.core.config import Settings

    fields = {f"SPAM_GATEWAY_{name}" for name in Settings.model_fields}
    for row in table(section):
        if any(NEW in cell for cell in row):
            continue
        for name in re.findall(r"\bSPAM_GATEWAY_[A-Z_]+\b", " ".join(row)):
            assert name in fields, (section, name)
