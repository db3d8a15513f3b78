"""Load the catalog data files once into frozen, typed objects with provenance."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields, make_dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

import yaml

# libyaml when present (the catalog is ~300 kB of YAML read on every command): ~5x faster than the pure-Python loader
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

from gigafactory.catalog.schema import CONFIDENCE_LEVELS, AttributeSpec, EntitySchema, load_schema
from gigafactory.errors import CatalogDataError, InputError, Problem
from gigafactory.units import UnitMismatch, convert

#: every entity kind, in the order a reader meets them (catalog -> design -> economics).
KINDS = ("accelerators", "systems", "models", "network", "facility", "regions", "costs")
#: fields every entry may carry besides its schema attributes.
COMMON_FIELDS = ("name", "aliases", "status", "description")
STATUSES = ("shipping", "announced", "retired")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_URL = re.compile(r"^https?://\S+$")


@dataclass(frozen=True)
class Provenance:
    """Where a numeric catalog value came from.

    ``value`` is in the schema's unit; ``given_value``/``given_unit`` are as written in
    the data file (usually the source's own unit).
    """

    value: float | tuple[float, ...]
    unit: str
    given_value: Any
    given_unit: str
    source: tuple[str, ...]
    date: str
    confidence: str
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": list(self.value) if isinstance(self.value, tuple) else self.value,
            "unit": self.unit,
            "given": {"value": self.given_value, "unit": self.given_unit},
            "source": list(self.source),
            "date": self.date,
            "confidence": self.confidence,
            "note": self.note,
        }


@dataclass(frozen=True)
class Entry:
    """Base of every catalog object: identity, status and per-attribute provenance."""

    id: str
    kind: str
    name: str
    aliases: tuple[str, ...] = ()
    status: str = "shipping"
    description: str | None = None
    provenance: Mapping[str, Provenance] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    def attributes(self) -> dict[str, Any]:
        """Schema attributes that are set, in schema order."""
        skip = {"id", "kind", "name", "aliases", "status", "description", "provenance"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip and getattr(self, f.name) is not None}

    @property
    def announced(self) -> bool:
        return self.status == "announced"


@dataclass(frozen=True)
class Catalog:
    """All catalog tables, keyed by kind then id, with alias resolution."""

    schemas: Mapping[str, EntitySchema]
    tables: Mapping[str, Mapping[str, Entry]]
    aliases: Mapping[str, Mapping[str, str]]
    sources: Mapping[str, Mapping[str, Any]]
    version: str

    def kind(self, kind: str) -> Mapping[str, Entry]:
        if kind not in self.tables:
            hint = _did_you_mean(kind, KINDS)
            raise InputError.single(
                f"unknown catalog kind '{kind}'" + (f" — did you mean '{hint}'?" if hint else ""),
                field="KIND",
                value=kind,
                expected=f"one of {', '.join(KINDS)}",
                fix=f"use '{hint}'" if hint else f"use one of {', '.join(KINDS)}",
            )
        return self.tables[kind]

    def resolve_id(self, kind: str, ident: str) -> str | None:
        """The canonical id for ``ident`` (an id or alias, case-insensitive), or None."""
        table = self.kind(kind)
        if ident in table:
            return ident
        return self.aliases[kind].get(ident.lower())

    def get(self, kind: str, ident: str, *, field_name: str | None = None, file: str | None = None) -> Entry:
        """The entry ``ident`` of ``kind``; an unknown id raises InputError with suggestions."""
        canonical = self.resolve_id(kind, ident)
        if canonical is not None:
            return self.tables[kind][canonical]
        raise InputError([self.unknown_problem(kind, ident, field_name=field_name, file=file)])

    def unknown_problem(self, kind: str, ident: str, *, field_name: str | None = None, file: str | None = None) -> Problem:
        names = list(self.tables[kind]) + list(self.aliases[kind])
        hint = _did_you_mean(ident, names)
        singular = kind[:-1] if kind.endswith("s") else kind
        return Problem(
            f"unknown {singular} '{ident}'" + (f" — did you mean '{hint}'?" if hint else ""),
            file=file,
            field=field_name,
            value=ident,
            expected=f"an id or alias from `gigafactory catalog list {kind}`",
            fix=f"use '{hint}'" if hint else f"pick one of: {', '.join(sorted(self.tables[kind]))}",
        )

    def find(self, ident: str) -> list[Entry]:
        """Every entry of any kind whose id or alias is ``ident``."""
        hits = []
        for kind in KINDS:
            canonical = self.resolve_id(kind, ident)
            if canonical is not None:
                hits.append(self.tables[kind][canonical])
        return hits

    def all_ids(self) -> list[str]:
        return [i for kind in KINDS for i in self.tables[kind]]

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from self.tables[kind].values()

    # typed shortcuts
    def system(self, ident: str) -> Entry:
        return self.get("systems", ident)

    def accelerator(self, ident: str) -> Entry:
        return self.get("accelerators", ident)

    def model(self, ident: str) -> Entry:
        return self.get("models", ident)

    def region(self, ident: str) -> Entry:
        return self.get("regions", ident)

    def resolve_hardware(self, ident: str) -> Entry:
        """A system for a hardware id as used in measured-results tables.

        System ids resolve to themselves; an accelerator id (``h100-sxm``) resolves to
        that accelerator's reference system (``dgx-h100``).
        """
        canonical = self.resolve_id("systems", ident)
        if canonical is not None:
            return self.tables["systems"][canonical]
        acc_id = self.resolve_id("accelerators", ident)
        if acc_id is not None:
            acc = self.tables["accelerators"][acc_id]
            return self.get("systems", acc.reference_system)
        raise InputError([self.unknown_problem("systems", ident, field_name="hardware")])


def _did_you_mean(word: str, candidates: Any) -> str | None:
    hits = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    if not hits:
        return None
    lowered = {c.lower(): c for c in candidates}
    return lowered[hits[0]]


def data_dir() -> Path:
    return Path(str(resources.files("gigafactory.catalog") / "data"))


def _entry_class(schema: EntitySchema) -> type:
    py_types = {"float": float, "int": int, "float_list": tuple, "str": str, "bool": bool, "str_list": tuple, "enum": str}
    spec = [(a.name, py_types[a.type] | None, field(default=None)) for a in schema.attributes]
    cls_name = "".join(part.capitalize() for part in schema.kind.split("_")) + "Entry"
    return make_dataclass(cls_name, spec, bases=(Entry,), frozen=True)


def _as_sources(raw: Any, known: Mapping[str, Any], where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for s in items:
        if not isinstance(s, str) or not s.strip():
            raise CatalogDataError(f"{where}: source must be a URL or a reference key, got {s!r}")
        s = s.strip()
        if not _URL.match(s) and s not in known:
            raise CatalogDataError(f"{where}: source {s!r} is neither an http(s) URL nor a key in sources.yaml")
        out.append(s)
    return tuple(out)


def _parse_numeric(spec: AttributeSpec, raw: Any, known_sources: Mapping[str, Any], where: str) -> tuple[Any, Provenance]:
    if not isinstance(raw, dict):
        raise CatalogDataError(f"{where}: numeric value must be a mapping with value, unit, source, date; got {raw!r}")
    missing = [k for k in ("value", "unit", "source", "date") if k not in raw]
    if missing:
        raise CatalogDataError(f"{where}: missing {', '.join(missing)}")
    extra = set(raw) - {"value", "unit", "source", "date", "confidence", "note"}
    if extra:
        raise CatalogDataError(f"{where}: unknown keys {sorted(extra)}")
    value = raw["value"]
    date = str(raw["date"])
    if not _DATE.match(date):
        raise CatalogDataError(f"{where}: date {date!r} must be YYYY, YYYY-MM or YYYY-MM-DD")
    confidence = raw.get("confidence", "secondary")
    if confidence not in CONFIDENCE_LEVELS:
        raise CatalogDataError(f"{where}: confidence {confidence!r} not in {CONFIDENCE_LEVELS}")
    if spec.type == "float_list":
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise CatalogDataError(f"{where}: value must be a list of numbers")
        if spec.length is not None and len(value) != spec.length:
            raise CatalogDataError(f"{where}: list needs {spec.length} values, got {len(value)}")
    elif not isinstance(value, (int, float)) or isinstance(value, bool):
        raise CatalogDataError(f"{where}: value must be a number, got {value!r}")
    try:
        converted = convert(value, str(raw["unit"]), spec.unit or "1")
    except UnitMismatch as exc:
        raise CatalogDataError(f"{where}: {exc}") from None
    if spec.type == "int":
        if abs(converted - round(converted)) > 1e-9:
            raise CatalogDataError(f"{where}: expected a whole number, got {converted}")
        typed: Any = int(round(converted))
    elif spec.type == "float_list":
        typed = tuple(converted)
    else:
        typed = float(converted)
    prov = Provenance(
        value=typed if not isinstance(typed, int) else float(typed),
        unit=spec.unit or "1",
        given_value=value,
        given_unit=str(raw["unit"]),
        source=_as_sources(raw["source"], known_sources, where),
        date=date,
        confidence=confidence,
        note=raw.get("note"),
    )
    return typed, prov


def _parse_plain(spec: AttributeSpec, raw: Any, where: str) -> Any:
    if spec.type == "str":
        if not isinstance(raw, str):
            raise CatalogDataError(f"{where}: expected text, got {raw!r}")
        return raw
    if spec.type == "bool":
        if not isinstance(raw, bool):
            raise CatalogDataError(f"{where}: expected true/false, got {raw!r}")
        return raw
    if spec.type == "enum":
        if raw not in spec.choices:
            raise CatalogDataError(f"{where}: {raw!r} not one of {spec.choices}")
        return raw
    if spec.type == "str_list":
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise CatalogDataError(f"{where}: expected a list of text")
        return tuple(raw)
    raise CatalogDataError(f"{where}: unsupported type {spec.type}")


def _load_kind(schema: EntitySchema, path: Path, known_sources: Mapping[str, Any]) -> dict[str, Entry]:
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    if not isinstance(raw, dict) or raw.get("kind") != schema.kind or not isinstance(raw.get("entries"), dict):
        raise CatalogDataError(f"{path}: needs 'kind: {schema.kind}' and an 'entries' mapping")
    cls = _entry_class(schema)
    out: dict[str, Entry] = {}
    for ident, body in raw["entries"].items():
        where = f"{path.name}: {ident}"
        if not isinstance(body, dict):
            raise CatalogDataError(f"{where}: entry must be a mapping")
        if "name" not in body:
            raise CatalogDataError(f"{where}: 'name' is required")
        unknown = set(body) - set(COMMON_FIELDS) - set(schema.names)
        if unknown:
            raise CatalogDataError(f"{where}: attributes {sorted(unknown)} are not in schema/{schema.kind}.yaml")
        status = body.get("status", "shipping")
        if status not in STATUSES:
            raise CatalogDataError(f"{where}: status {status!r} not in {STATUSES}")
        values: dict[str, Any] = {}
        provenance: dict[str, Provenance] = {}
        category = body.get("category")
        for spec in schema.attributes:
            applies = not spec.categories or category in spec.categories
            if spec.name not in body:
                if spec.required and applies:
                    raise CatalogDataError(f"{where}: required attribute '{spec.name}' is missing")
                continue
            if not applies:
                raise CatalogDataError(f"{where}: '{spec.name}' only applies to categories {spec.categories}")
            if spec.numeric:
                values[spec.name], provenance[spec.name] = _parse_numeric(spec, body[spec.name], known_sources, f"{where}.{spec.name}")
            else:
                values[spec.name] = _parse_plain(spec, body[spec.name], f"{where}.{spec.name}")
        aliases = tuple(body.get("aliases", ()) or ())
        out[ident] = cls(
            id=ident,
            kind=schema.kind,
            name=body["name"],
            aliases=aliases,
            status=status,
            description=body.get("description"),
            provenance=MappingProxyType(provenance),
            **values,
        )
    return out


def _check_refs(schemas: Mapping[str, EntitySchema], tables: Mapping[str, Mapping[str, Entry]], aliases: Mapping[str, Mapping[str, str]]) -> None:
    for kind, schema in schemas.items():
        for spec in schema.attributes:
            if not spec.ref:
                continue
            for entry in tables[kind].values():
                target = getattr(entry, spec.name)
                if target is None:
                    continue
                targets = target if isinstance(target, tuple) else (target,)
                for t in targets:
                    if t not in tables[spec.ref] and t.lower() not in aliases[spec.ref]:
                        raise CatalogDataError(f"{kind}.yaml: {entry.id}.{spec.name} names unknown {spec.ref} id {t!r}")


@lru_cache(maxsize=4)
def load_catalog(directory: str | None = None) -> Catalog:
    """Load every kind from ``directory`` (the bundled data by default), once."""
    base = Path(directory) if directory else data_dir()
    src_path = base / "sources.yaml"
    sources = yaml.load(src_path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) if src_path.exists() else {}
    sources = (sources or {}).get("sources", {}) or {}
    meta = yaml.load((base / "catalog.yaml").read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    schemas: dict[str, EntitySchema] = {}
    tables: dict[str, dict[str, Entry]] = {}
    aliases: dict[str, dict[str, str]] = {}
    for kind in KINDS:
        schema = load_schema(base / "schema" / f"{kind}.yaml")
        if schema.kind != kind:
            raise CatalogDataError(f"schema/{kind}.yaml declares kind {schema.kind!r}")
        schemas[kind] = schema
        tables[kind] = _load_kind(schema, base / f"{kind}.yaml", sources)
        amap: dict[str, str] = {}
        for ident, entry in tables[kind].items():
            for name in (ident, *entry.aliases):
                key = name.lower()
                if key in amap and amap[key] != ident:
                    raise CatalogDataError(f"{kind}.yaml: alias {name!r} used by both {amap[key]} and {ident}")
                amap[key] = ident
        aliases[kind] = amap
    _check_refs(schemas, tables, aliases)
    return Catalog(
        schemas=MappingProxyType(schemas),
        tables=MappingProxyType({k: MappingProxyType(v) for k, v in tables.items()}),
        aliases=MappingProxyType({k: MappingProxyType(v) for k, v in aliases.items()}),
        sources=MappingProxyType(dict(sources)),
        version=str(meta["version"]),
    )


def validate_kind(kind: str, directory: str | None = None) -> dict[str, Entry]:
    """Load and check a single kind's schema and data file (for authors of data files)."""
    base = Path(directory) if directory else data_dir()
    src_path = base / "sources.yaml"
    sources = (yaml.load(src_path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}).get("sources", {}) if src_path.exists() else {}
    schema = load_schema(base / "schema" / f"{kind}.yaml")
    return _load_kind(schema, base / f"{kind}.yaml", sources or {})

