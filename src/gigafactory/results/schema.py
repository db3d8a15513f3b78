"""JSON Schema of a plan's result.json, generated from the result models.

``python -m gigafactory.results.schema [PATH]`` writes it to docs/result.schema.json (or PATH);
a test checks that the committed file equals a freshly generated one."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gigafactory.results.plan import SCHEMA_VERSION, PlanResult

SCHEMA_ID = f"urn:gigafactory:result:{SCHEMA_VERSION}"
DOCS_PATH = Path(__file__).resolve().parents[3] / "docs" / "result.schema.json"


def plan_result_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of result.json as the models serialise it."""
    body = PlanResult.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **body,
        "title": "gigafactory plan result (result.json)",
        "version": SCHEMA_VERSION,
    }


def schema_text() -> str:
    """The schema as written to docs/result.schema.json."""
    return json.dumps(plan_result_schema(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DOCS_PATH
    path.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
