"""The failure catalog: ``data/failures.yaml`` loaded once into frozen objects in SI units.

Every number in the file has a unit, a source, a date and a confidence (a test enforces it);
here rates become 1/s per unit and times seconds.  ``Quantity`` keeps the provenance.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from gigafactory.errors import CatalogDataError
from gigafactory.units import convert

#: what each class's rate counts per (``per`` in the data file)
PER_UNITS = ("gpu", "tray", "rack", "fabric_gpu", "shelf", "switch_tray", "cdu")
#: how far a failure reaches in the serving layout (operations/blast.py)
BLASTS = ("tray", "restart_tray", "restart_instance", "rack", "cdu_racks", "none")


@dataclass(frozen=True)
class Quantity:
    """One sourced figure in SI (``value``, ``low``, ``high``) with its provenance."""

    value: float | None
    low: float | None
    high: float | None
    unit_given: str
    source: str
    date: str
    confidence: str
    note: str = ""


@dataclass(frozen=True)
class FailureClass:
    """A component class: rate per unit [1/s], what fails, which part is swapped, how far it reaches."""

    name: str
    description: str
    per: str
    rate: Quantity  # [1/s per unit]
    fru: str | None
    blast: str
    llama3_causes: tuple[str, ...]

    @property
    def rate_per_s(self) -> float:
        return float(self.rate.value)


@dataclass(frozen=True)
class Fru:
    """A field-replaceable unit: spare price [USD], technician swap time [s], replenishment lead time [s]."""

    name: str
    unit_cost: Quantity
    swap: Quantity
    lead: Quantity


@dataclass(frozen=True)
class FailureCatalog:
    version: str
    rack: dict[str, Quantity]
    classes: dict[str, FailureClass]
    frus: dict[str, Fru]
    handling: dict[str, Quantity]
    lifecycle: dict[str, Quantity]

    def rack_value(self, key: str) -> float:
        return float(self.rack[key].value)


_SI = {"1/year": "1/s", "h": "s", "day": "s", "min": "s", "s": "s"}


def _quantity(d: dict[str, Any], where: str) -> Quantity:
    for key in ("unit", "source", "date", "confidence"):
        if key not in d:
            raise CatalogDataError(f"operations/data/failures.yaml: {where} has no {key}")
    unit = str(d["unit"])
    target = _SI.get(unit)

    def si(x: Any) -> float | None:
        if x is None:
            return None
        return float(convert(float(x), unit, target)) if target else float(x)

    rng = d.get("range") or [d["value"], d["value"]]
    src = d["source"]
    return Quantity(si(d["value"]), si(rng[0]), si(rng[1]), unit, "; ".join(src) if isinstance(src, list) else str(src),
                    str(d["date"]), str(d["confidence"]), str(d.get("note", "")))


def parse_failures(data: dict[str, Any]) -> FailureCatalog:
    classes = {}
    for name, c in data["classes"].items():
        if c["per"] not in PER_UNITS or c["blast"] not in BLASTS:
            raise CatalogDataError(f"operations/data/failures.yaml: class {name}: per {c['per']!r} / blast {c['blast']!r} unknown")
        classes[name] = FailureClass(name, c["description"], c["per"], _quantity(c["rate"], f"classes.{name}.rate"), c.get("fru"),
                                     c["blast"], tuple(c.get("llama3_causes") or ()))
    frus = {n: Fru(n, _quantity(f["unit_cost"], f"frus.{n}.unit_cost"), _quantity(f["swap"], f"frus.{n}.swap"),
                   _quantity(f["lead"], f"frus.{n}.lead")) for n, f in data["frus"].items()}
    for c in classes.values():
        if c.fru is not None and c.fru not in frus:
            raise CatalogDataError(f"operations/data/failures.yaml: class {c.name} names unknown fru {c.fru!r}")
    return FailureCatalog(
        version=str(data["version"]),
        rack={k: _quantity(v, f"rack.{k}") for k, v in data["rack"].items()},
        classes=classes, frus=frus,
        handling={k: _quantity(v, f"handling.{k}") for k, v in data["handling"].items()},
        lifecycle={k: _quantity(v, f"lifecycle.{k}") for k, v in data["lifecycle"].items()},
    )


def raw_failures() -> dict[str, Any]:
    text = (resources.files("gigafactory.operations") / "data" / "failures.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def load_failures() -> FailureCatalog:
    """The bundled failure catalog (loaded once)."""
    return parse_failures(raw_failures())
