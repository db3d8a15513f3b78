"""Renders docs/result.md from the result models' JSON Schema, so the document is the types.

``python -m gigafactory.results.docs > docs/result.md``; tests/test_docs.py keeps them in sync."""
from __future__ import annotations

from typing import Any

from gigafactory.results.schema import plan_result_schema

INTRO = """# result.json

`gigafactory plan [SCENARIO] --out DIR` writes `DIR/result.json` and `DIR/report.html`, and records
the run in the run store (`gigafactory runs list/show/compare`). `result.json` is the JSON form of
the plan stage's typed result (`gigafactory.results.plan.PlanResult`), `schema_version` {version};
its JSON Schema is [`result.schema.json`](result.schema.json), generated from the same types
(`python -m gigafactory.results.schema`). This page is generated from it too
(`python -m gigafactory.results.docs > docs/result.md`): do not edit it by hand.

Units are in the key names (`_usd` in the cost profile's base year, `_mw`, `_days` from the
programme start, `_s`, `tok_s_*` in output tokens per second); descriptions give the others.
The same scenario and seed give the same file, byte for byte: it has no wall-clock field (the run
store records when a run was made). `scenario` is the validated scenario with every default
filled in; its fields are documented in [scenario.md](scenario.md).

| field | type | description |
| --- | --- | --- |
"""


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        return node["$ref"].rsplit("/", 1)[-1]
    if "const" in node:
        return repr(node["const"]).replace("'", '"')
    if "enum" in node:
        return " \\| ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " \\| ".join(_type(n, defs) for n in node[key])
    t = node.get("type")
    if t == "array":
        return f"list[{_type(node.get('items', {}), defs)}]"
    if t == "object" and "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
        return f"map[str, {_type(node['additionalProperties'], defs)}]"
    return str(t or "any")


def _children(node: dict[str, Any], defs: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(path suffix, object schema) to descend into: objects, list items, map values, unions."""
    node = _resolve(node, defs)
    if node.get("type") == "object" and "properties" in node:
        return [("", node)]
    if node.get("type") == "array":
        return [(f"[]{s}", n) for s, n in _children(node.get("items", {}), defs)]
    if isinstance(node.get("additionalProperties"), dict):
        return [(f".<key>{s}", n) for s, n in _children(node["additionalProperties"], defs)]
    out: list[tuple[str, dict[str, Any]]] = []
    for key in ("anyOf", "oneOf"):
        for alt in node.get(key, []):
            out += _children(alt, defs)
    return out


def _rows(obj: dict[str, Any], prefix: str, defs: dict[str, Any], seen: set[str], out: list[str]) -> None:
    for name, prop in obj.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        desc = (prop.get("description") or _resolve(prop, defs).get("description") or "").replace("|", "\\|").replace("\n", " ")
        out.append(f"| `{path}` | {_type(prop, defs)} | {desc} |")
        if path == "scenario":
            continue  # documented in scenario.md
        for suffix, child in _children(prop, defs):
            title = child.get("title", "")
            key = f"{path}{suffix}:{title}"
            if key in seen:
                continue
            seen.add(key)
            _rows(child, f"{path}{suffix}", defs, seen, out)


def render() -> str:
    schema = plan_result_schema()
    defs = schema.get("$defs", {})
    rows: list[str] = []
    _rows(schema, "", defs, set(), rows)
    return INTRO.format(version=schema["version"]) + "\n".join(rows) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
