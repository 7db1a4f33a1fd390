"""Every numeric parameter is bounded (issue 12 item 10).

Threat: a number beyond the database's integer range (ids beyond 64 bits) reached
SQLAlchemy and ended in an HTTP 500 on the fee and carrier-exchange routes, and an
unbounded count could ask the hub for any amount of work. The cases are generated from
the OpenAPI schema of the app with every plugin loaded, so a new route, a plugin's
included, is checked without anyone listing it here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from ekita.core.models.enums import Role
from tests.api import client, key

HUGE = 2**70


def _schema(engine: Engine) -> dict[str, Any]:
    return client(engine).get("/openapi.json").json()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _integer_leaves(spec: dict[str, Any], schema: dict[str, Any], where: str,
                    seen: frozenset[str] = frozenset()) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer or number schema reachable from ``schema`` (request side only)."""
    ref = schema.get("$ref")
    if ref in seen:
        return
    seen = seen | {ref} if ref else seen
    schema = _resolve(spec, schema)
    if schema.get("type") in ("integer", "number"):
        yield where, schema
    for variant in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
        yield from _integer_leaves(spec, variant, where, seen)
    if "items" in schema:
        yield from _integer_leaves(spec, schema["items"], f"{where}[]", seen)
    for name, prop in schema.get("properties", {}).items():
        yield from _integer_leaves(spec, prop, f"{where}.{name}", seen)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield from _integer_leaves(spec, extra, f"{where}.*", seen)


def _inputs(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(method, path, where, schema) for every numeric input of every operation."""
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            for param in op.get("parameters", []):
                for where, leaf in _integer_leaves(
                        spec, param.get("schema", {}), f"{param['in']}:{param['name']}"):
                    yield method, path, where, leaf
            body = op.get("requestBody", {}).get("content", {})
            for media in body.values():
                for where, leaf in _integer_leaves(spec, media.get("schema", {}), "body"):
                    yield method, path, where, leaf


def test_every_numeric_input_has_both_bounds(engine: Engine) -> None:
    """issue 12 item 10: no route, plugin routes included, takes an unbounded number."""
    spec = _schema(engine)
    found = list(_inputs(spec))
    assert any(p.startswith("/api/v1/adapters/") for _m, p, _w, _s in found), \
        "the plugins' routes must be part of the walk"
    unbounded = [
        f"{method.upper()} {path} {where}" for method, path, where, leaf in found
        if ("minimum" not in leaf and "exclusiveMinimum" not in leaf)
        or ("maximum" not in leaf and "exclusiveMaximum" not in leaf)
    ]
    assert unbounded == []


def _path_id_routes(spec: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            names = [p["name"] for p in op.get("parameters", [])
                     if p["in"] == "path" and
                     any(True for _w, _l in _integer_leaves(spec, p.get("schema", {}), ""))]
            if names:
                url = path
                for name in names:
                    url = url.replace("{" + name + "}", str(HUGE))
                url = re.sub(r"\{[^}]+\}", "x", url)  # non-numeric path parts
                yield method, url


def test_ids_beyond_64_bits_are_422_everywhere(engine: Engine) -> None:
    """issue 12 item 10: an id of 2**70 in any path is a 422 naming the field, never a 500,
    for an administrator, who passes every permission check and reaches the database."""
    spec = _schema(engine)
    api = client(engine)
    headers = key(engine, Role.ADMIN)
    routes = list(_path_id_routes(spec))
    assert len(routes) > 20
    answers = {}
    for method, url in routes:
        response = api.request(method.upper(), url, headers=headers, json={})
        answers[f"{method.upper()} {url}"] = response.status_code
    assert {route: code for route, code in answers.items() if code != 422} == {}


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", f"offset={HUGE}"])
def test_paging_out_of_range_is_422(engine: Engine, query: str) -> None:
    """issue 12 item 10: page sizes and offsets are bounded on the lists."""
    api = client(engine)
    response = api.get(f"/api/v1/children?{query}", headers=key(engine, Role.ADMIN))
    assert response.status_code == 422
    assert query.split("=")[0] in response.text  # the answer names the parameter
