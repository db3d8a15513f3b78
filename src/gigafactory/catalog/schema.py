"""Entity schemas: one YAML file per kind declaring each attribute's type, unit and meaning."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml when present (the catalog is ~300 kB of YAML read on every command): ~5x faster than the pure-Python loader
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

from gigafactory.errors import CatalogDataError
from gigafactory.units import is_known

#: attribute types a schema may declare.  Numeric types need unit, source and date.
NUMERIC_TYPES = ("float", "int", "float_list")
PLAIN_TYPES = ("str", "bool", "str_list", "enum")
CONFIDENCE_LEVELS = ("official", "analyst", "press", "secondary", "low", "announced", "derived")


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of an entity kind, as declared in its schema file."""

    name: str
    type: str
    description: str
    unit: str | None = None
    required: bool = False
    choices: tuple[str, ...] = ()
    ref: str | None = None  # kind whose id this attribute names
    length: int | None = None  # fixed length for float_list (e.g. 12 months)
    categories: tuple[str, ...] = ()  # only meaningful for entries of these categories

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_TYPES


@dataclass(frozen=True)
class EntitySchema:
    """All attributes of one entity kind (accelerators, systems, models, ...)."""

    kind: str
    description: str
    attributes: tuple[AttributeSpec, ...]
    path: Path

    def attribute(self, name: str) -> AttributeSpec | None:
        for spec in self.attributes:
            if spec.name == name:
                return spec
        return None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.attributes)


def load_schema(path: Path) -> EntitySchema:
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    if not isinstance(raw, dict) or "attributes" not in raw:
        raise CatalogDataError(f"{path}: a schema needs 'kind', 'description' and 'attributes'")
    attrs: list[AttributeSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw["attributes"]):
        where = f"{path}: attributes[{i}]"
        name = item.get("name")
        typ = item.get("type")
        if not name or name in seen:
            raise CatalogDataError(f"{where}: missing or duplicate name {name!r}")
        seen.add(name)
        if typ not in NUMERIC_TYPES + PLAIN_TYPES:
            raise CatalogDataError(f"{where} ({name}): type {typ!r} not one of {NUMERIC_TYPES + PLAIN_TYPES}")
        unit = item.get("unit")
        if typ in NUMERIC_TYPES:
            if unit is None or not is_known(str(unit)):
                raise CatalogDataError(f"{where} ({name}): numeric attribute needs a known unit, got {unit!r}")
        if not item.get("description"):
            raise CatalogDataError(f"{where} ({name}): description is required")
        if typ == "enum" and not item.get("choices"):
            raise CatalogDataError(f"{where} ({name}): enum needs choices")
        attrs.append(
            AttributeSpec(
                name=name,
                type=typ,
                description=str(item["description"]).strip(),
                unit=None if unit is None else str(unit),
                required=bool(item.get("required", False)),
                choices=tuple(item.get("choices", ()) or ()),
                ref=item.get("ref"),
                length=item.get("length"),
                categories=tuple(item.get("categories", ()) or ()),
            )
        )
    return EntitySchema(kind=raw["kind"], description=str(raw.get("description", "")).strip(), attributes=tuple(attrs), path=path)


def schema_rows(schema: EntitySchema) -> list[dict[str, Any]]:
    """Rows for rendering a schema in docs or the CLI."""
    return [
        {
            "attribute": a.name,
            "type": a.type,
            "unit": a.unit or "",
            "required": a.required,
            "description": a.description,
        }
        for a in schema.attributes
    ]
