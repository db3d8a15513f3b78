"""The device catalog: SoCs, named devices and small models, loaded once into frozen objects.

Data lives in ``devices/data/{socs,devices,small_models}.yaml``.  Every numeric value is written
``{value, unit, source, date, confidence, note}`` in the unit its source used and is converted to SI
here (``gigafactory.units``).  A model that also exists in the main catalog (``catalog_id``) takes its
architecture from there, so the two never disagree.  Bad data raises :class:`InputError` naming the
file and field.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from gigafactory.errors import InputError, Problem
from gigafactory.units import UnitMismatch, convert

FORM_FACTORS = ("phone", "laptop", "desktop", "auto")
RUNTIMES = ("genie", "llama.cpp", "executorch")
LLAMACPP_BACKENDS = ("metal", "cpu")
CONFIDENCE = ("official", "secondary", "derived", "estimated")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
FILES = ("socs.yaml", "devices.yaml", "small_models.yaml")


@dataclass(frozen=True)
class Quantity:
    """One sourced number: the SI value and where it came from."""

    value: float  # in the attribute's SI unit
    given: str  # value and unit as written in the data file
    source: tuple[str, ...]
    date: str
    confidence: str
    note: str | None = None


@dataclass(frozen=True)
class Soc:
    id: str
    name: str
    vendor: str  # "qualcomm" | "apple" | ...
    llamacpp_backend: str  # where llama.cpp runs on this SoC: "metal" (GPU) or "cpu"
    memory_bandwidth_bytes_per_s: float  # peak DRAM bandwidth [B/s]
    npu_int8_ops_per_s: float | None = None  # NPU peak INT8 rate [op/s]
    gpu_fp16_flop_per_s: float | None = None  # GPU peak FP16 rate [FLOP/s]
    provenance: Mapping[str, Quantity] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)


@dataclass(frozen=True)
class FormFactor:
    name: str
    sustained_fraction: float  # long-run throughput / burst throughput [1]
    throttle_time_constant_s: float  # time constant of the approach to the sustained rate [s]
    llm_power_w: float  # package power while running an LLM [W]
    usable_memory_fraction: float  # share of RAM one app's model may hold [1]
    provenance: Mapping[str, Quantity] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)


@dataclass(frozen=True)
class Device:
    name: str
    soc: str  # Soc id
    form_factor: str  # one of FORM_FACTORS
    os: str
    ram_bytes: float  # installed memory [B]
    usable_memory_fraction: float  # [1]; the rest is the OS reserve
    llm_power_w: float  # [W]
    battery_j: float | None = None  # battery capacity [J], where sourced
    provenance: Mapping[str, Quantity] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    @property
    def memory_available_bytes(self) -> float:
        """Memory one app's model and KV cache may use [B]."""
        return self.ram_bytes * self.usable_memory_fraction

    @property
    def os_reserve_bytes(self) -> float:
        return self.ram_bytes - self.memory_available_bytes


@dataclass(frozen=True)
class Precision:
    name: str
    runtime: str  # one of RUNTIMES
    bits_per_weight: float  # average stored bits per parameter [bit]


@dataclass(frozen=True)
class SmallModel:
    id: str
    name: str
    total_params: float  # [count]
    num_layers: int
    num_kv_heads: int
    head_dim: int
    max_context_tokens: int
    catalog_id: str | None = None  # id in the main catalog when the model is there
    measured_weight_bytes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))  # precision -> file size [B]
    provenance: Mapping[str, Quantity] = field(default_factory=lambda: MappingProxyType({}), repr=False, compare=False)

    def weights_bytes(self, precision: Precision) -> float:
        """Bytes of weights stored (and read once per decoded token) at ``precision`` [B]."""
        measured = self.measured_weight_bytes.get(precision.name)
        return measured if measured is not None else self.total_params * precision.bits_per_weight / 8.0

    def kv_bytes_per_token(self, bytes_per_element: float = 2.0) -> float:
        """KV-cache bytes per token of context, K and V in every layer [B]; fp16 cache by default."""
        return 2.0 * self.num_layers * self.num_kv_heads * self.head_dim * bytes_per_element


@dataclass(frozen=True)
class DeviceCatalog:
    socs: Mapping[str, Soc]
    devices: Mapping[str, Device]
    models: Mapping[str, SmallModel]
    precisions: Mapping[str, Precision]
    form_factors: Mapping[str, FormFactor]
    directory: str

    def device(self, name: str) -> Device:
        return _lookup(self.devices, name, "device", "devices.yaml")

    def model(self, ident: str) -> SmallModel:
        return _lookup(self.models, ident, "model", "small_models.yaml")

    def precision(self, name: str) -> Precision:
        return _lookup(self.precisions, name, "precision", "small_models.yaml")

    def soc_of(self, device: Device) -> Soc:
        return self.socs[device.soc]


def _lookup(table: Mapping[str, Any], key: str, what: str, file: str) -> Any:
    if key in table:
        return table[key]
    folded = {k.lower(): k for k in table}
    if key.lower() in folded:
        return table[folded[key.lower()]]
    import difflib

    hint = difflib.get_close_matches(key, list(table), n=1)
    raise InputError.single(
        f"unknown {what} '{key}'" + (f" — did you mean '{hint[0]}'?" if hint else ""),
        field=what,
        value=key,
        expected=f"one of: {', '.join(sorted(table))}",
        fix=f"use one of the {what}s in devices/data/{file}",
    )


# --- parsing --------------------------------------------------------------------------------------

def data_dir() -> Path:
    return Path(str(resources.files("gigafactory.devices") / "data"))


class _Reader:
    """Collects problems while parsing one file, so a bad file reports every fault at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = str(path)
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str, value: Any = None, expected: str | None = None, fix: str | None = None) -> None:
        kwargs: dict[str, Any] = {"file": self.file, "field": where, "expected": expected, "fix": fix}
        if value is not None:
            kwargs["value"] = value
        self.problems.append(Problem(message, **kwargs))

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError.single(f"cannot read device data: {exc.strerror or exc}", file=self.file) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError.single(f"not valid YAML: {exc}", file=self.file) from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise InputError.single("expected a mapping with an 'entries' mapping", file=self.file, field="entries")
        return data

    def quantity(self, where: str, raw: Any, si_unit: str, *, positive: bool = True) -> Quantity | None:
        if not isinstance(raw, dict):
            self.fail(where, "a number needs value, unit, source and date", raw, "{value: <number>, unit: <unit>, source: <url>, date: YYYY[-MM[-DD]]}")
            return None
        ok = True
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{where}.value", "value must be a number", value, "a number")
            ok = False
        unit = raw.get("unit")
        if not isinstance(unit, str) or not unit.strip():
            self.fail(f"{where}.unit", "missing unit", unit, f"a unit convertible to {si_unit}")
            ok = False
        src = raw.get("source")
        sources = tuple(src) if isinstance(src, list) else ((src,) if isinstance(src, str) else ())
        if not sources or not all(isinstance(s, str) and s.strip() for s in sources):
            self.fail(f"{where}.source", "missing source", src, "a URL (or 'assumption' with confidence: estimated)")
            ok = False
        elif "assumption" in sources and raw.get("confidence") != "estimated":
            self.fail(f"{where}.confidence", "an assumption must say confidence: estimated", raw.get("confidence"), "estimated")
            ok = False
        date = str(raw.get("date", ""))
        if not _DATE.match(date):
            self.fail(f"{where}.date", "missing or malformed date", raw.get("date"), "YYYY, YYYY-MM or YYYY-MM-DD")
            ok = False
        conf = raw.get("confidence")
        if conf not in CONFIDENCE:
            self.fail(f"{where}.confidence", "unknown confidence", conf, f"one of {', '.join(CONFIDENCE)}")
            ok = False
        if not ok:
            return None
        try:
            si = _to_si(float(value), unit, si_unit)
        except UnitMismatch as exc:
            self.fail(f"{where}.unit", f"unit cannot be converted: {exc}", unit, si_unit)
            return None
        if positive and not si > 0:
            self.fail(f"{where}.value", "must be positive", value, "> 0")
            return None
        return Quantity(si, f"{value} {unit}", sources, date, conf, raw.get("note"))

    def choice(self, where: str, raw: Any, choices: tuple[str, ...]) -> str | None:
        if raw not in choices:
            self.fail(where, "not an allowed value", raw, f"one of {', '.join(choices)}")
            return None
        return raw

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputError(list(self.problems))


def _to_si(value: float, unit: str, si_unit: str) -> float:
    if si_unit == "dimensionless" and unit in ("count", "dimensionless"):
        return value
    if unit == "TOPS":  # pint has no "operation"; TOPS and TFLOP/s share the 1e12 factor
        if si_unit != "op/s":
            raise UnitMismatch(f"'TOPS' is an operation rate, not {si_unit}")
        return float(convert(value, "TFLOP/s", "FLOP/s"))
    if si_unit == "op/s":
        raise UnitMismatch(f"'{unit}' is not an operation rate; write TOPS")
    return float(convert(value, unit, si_unit))


_SOC_NUMBERS = {
    "memory_bandwidth_bytes_per_s": ("B/s", True),
    "npu_int8_ops_per_s": ("op/s", False),
    "gpu_fp16_flop_per_s": ("FLOP/s", False),
}
_FF_NUMBERS = {
    "sustained_fraction": "dimensionless",
    "throttle_time_constant_s": "s",
    "llm_power_w": "W",
    "usable_memory_fraction": "dimensionless",
}
_ARCH = ("num_layers", "num_kv_heads", "head_dim", "max_context_tokens")


def _parse_socs(path: Path) -> dict[str, Soc]:
    r = _Reader(path)
    data = r.load()
    out: dict[str, Soc] = {}
    for sid, e in data["entries"].items():
        w = f"entries.{sid}"
        if not isinstance(e, dict):
            r.fail(w, "entry must be a mapping", e)
            continue
        prov: dict[str, Quantity] = {}
        for attr, (unit, required) in _SOC_NUMBERS.items():
            if attr not in e:
                if required:
                    r.fail(f"{w}.{attr}", "required field missing", expected=unit)
                continue
            q = r.quantity(f"{w}.{attr}", e[attr], unit)
            if q is not None:
                prov[attr] = q
        backend = r.choice(f"{w}.llamacpp_backend", e.get("llamacpp_backend"), LLAMACPP_BACKENDS)
        if not isinstance(e.get("name"), str) or not isinstance(e.get("vendor"), str):
            r.fail(f"{w}.name", "name and vendor are required strings", e.get("name"))
            continue
        if backend is None or "memory_bandwidth_bytes_per_s" not in prov:
            continue
        out[sid] = Soc(
            id=sid, name=e["name"], vendor=e["vendor"], llamacpp_backend=backend,
            memory_bandwidth_bytes_per_s=prov["memory_bandwidth_bytes_per_s"].value,
            npu_int8_ops_per_s=prov["npu_int8_ops_per_s"].value if "npu_int8_ops_per_s" in prov else None,
            gpu_fp16_flop_per_s=prov["gpu_fp16_flop_per_s"].value if "gpu_fp16_flop_per_s" in prov else None,
            provenance=MappingProxyType(prov),
        )
    r.raise_if_any()
    return out


def _parse_devices(path: Path, socs: Mapping[str, Soc]) -> tuple[dict[str, Device], dict[str, FormFactor]]:
    r = _Reader(path)
    data = r.load()
    ffs: dict[str, FormFactor] = {}
    raw_ff = data.get("form_factors")
    if not isinstance(raw_ff, dict):
        r.fail("form_factors", "missing form_factors mapping", expected=", ".join(FORM_FACTORS))
        raw_ff = {}
    for name in FORM_FACTORS:
        f = raw_ff.get(name)
        if not isinstance(f, dict):
            r.fail(f"form_factors.{name}", "form factor missing", expected="a mapping of " + ", ".join(_FF_NUMBERS))
            continue
        prov = {a: r.quantity(f"form_factors.{name}.{a}", f.get(a), u) for a, u in _FF_NUMBERS.items()}
        if any(q is None for q in prov.values()):
            continue
        vals = {a: q.value for a, q in prov.items()}  # type: ignore[union-attr]
        for a in ("sustained_fraction", "usable_memory_fraction"):
            if vals[a] > 1.0:
                r.fail(f"form_factors.{name}.{a}.value", "a fraction must be in (0, 1]", vals[a], "0 < x <= 1")
        ffs[name] = FormFactor(name=name, **vals, provenance=MappingProxyType(prov))  # type: ignore[arg-type]
    out: dict[str, Device] = {}
    for dname, e in data["entries"].items():
        w = f"entries.{dname}"
        if not isinstance(e, dict):
            r.fail(w, "entry must be a mapping", e)
            continue
        soc = e.get("soc")
        if soc not in socs:
            r.fail(f"{w}.soc", "unknown SoC", soc, f"one of {', '.join(sorted(socs))}", "add the SoC to socs.yaml or fix the id")
        ff = r.choice(f"{w}.form_factor", e.get("form_factor"), FORM_FACTORS)
        ram = r.quantity(f"{w}.ram_bytes", e.get("ram_bytes"), "B")
        prov = {"ram_bytes": ram} if ram else {}
        battery = None
        if "battery_j" in e:
            bq = r.quantity(f"{w}.battery_j", e["battery_j"], "J")
            if bq:
                battery, prov["battery_j"] = bq.value, bq
        if soc not in socs or ff is None or ram is None or ff not in ffs:
            continue
        out[dname] = Device(
            name=dname, soc=soc, form_factor=ff, os=str(e.get("os", "")), ram_bytes=ram.value,
            usable_memory_fraction=ffs[ff].usable_memory_fraction, llm_power_w=ffs[ff].llm_power_w,
            battery_j=battery, provenance=MappingProxyType(prov),
        )
    r.raise_if_any()
    return out, ffs


def _parse_models(path: Path) -> tuple[dict[str, SmallModel], dict[str, Precision]]:
    r = _Reader(path)
    data = r.load()
    precisions: dict[str, Precision] = {}
    for pname, p in (data.get("precisions") or {}).items():
        w = f"precisions.{pname}"
        if not isinstance(p, dict):
            r.fail(w, "precision must be a mapping", p)
            continue
        runtime = r.choice(f"{w}.runtime", p.get("runtime"), RUNTIMES)
        bits = r.quantity(f"{w}.bits_per_weight", p.get("bits_per_weight"), "dimensionless")
        if runtime and bits:
            precisions[pname] = Precision(pname, runtime, bits.value)
    main = None
    out: dict[str, SmallModel] = {}
    for mid, e in data["entries"].items():
        w = f"entries.{mid}"
        if not isinstance(e, dict):
            r.fail(w, "entry must be a mapping", e)
            continue
        measured: dict[str, float] = {}
        prov: dict[str, Quantity] = {}
        for pname, raw in (e.get("weights") or {}).items():
            if pname not in precisions:
                r.fail(f"{w}.weights.{pname}", "unknown precision", pname, f"one of {', '.join(sorted(precisions))}")
                continue
            q = r.quantity(f"{w}.weights.{pname}", raw, "B")
            if q:
                measured[pname], prov[f"weights.{pname}"] = q.value, q
        cid = e.get("catalog_id")
        if cid is not None:
            if cid != mid:
                r.fail(f"{w}.catalog_id", "a model in the main catalog keeps its catalog id", cid, mid)
                continue
            if main is None:
                from gigafactory.catalog import load_catalog

                main = load_catalog()
            cid_resolved = main.resolve_id("models", cid)
            if cid_resolved is None:
                r.fail(f"{w}.catalog_id", "not in the main catalog", cid, "an id from `gigafactory catalog list models`")
                continue
            m = main.model(cid_resolved)
            clash = [a for a in ("total_params", *_ARCH) if a in e]
            if clash:
                r.fail(f"{w}.{clash[0]}", "architecture comes from the main catalog; do not repeat it here", e[clash[0]])
                continue
            out[mid] = SmallModel(
                id=mid, name=m.name, total_params=float(m.total_params), num_layers=int(m.num_layers),
                num_kv_heads=int(m.num_kv_heads), head_dim=int(m.head_dim), max_context_tokens=int(m.max_context_tokens),
                catalog_id=cid_resolved, measured_weight_bytes=MappingProxyType(measured), provenance=MappingProxyType(prov),
            )
            continue
        nums: dict[str, float] = {}
        for a, unit in (("total_params", "dimensionless"), *((a, "dimensionless") for a in _ARCH)):
            q = r.quantity(f"{w}.{a}", e.get(a), unit)
            if q:
                nums[a], prov[a] = q.value, q
        if len(nums) < 1 + len(_ARCH) or not isinstance(e.get("name"), str):
            if not isinstance(e.get("name"), str):
                r.fail(f"{w}.name", "name is a required string", e.get("name"))
            continue
        out[mid] = SmallModel(
            id=mid, name=e["name"], total_params=nums["total_params"], num_layers=int(nums["num_layers"]),
            num_kv_heads=int(nums["num_kv_heads"]), head_dim=int(nums["head_dim"]),
            max_context_tokens=int(nums["max_context_tokens"]), measured_weight_bytes=MappingProxyType(measured),
            provenance=MappingProxyType(prov),
        )
    r.raise_if_any()
    return out, precisions


@lru_cache(maxsize=4)
def load_device_catalog(directory: str | None = None) -> DeviceCatalog:
    """The device catalog from ``directory`` (default: the package data), loaded once."""
    d = Path(directory) if directory is not None else data_dir()
    socs = _parse_socs(d / "socs.yaml")
    devices, ffs = _parse_devices(d / "devices.yaml", socs)
    models, precisions = _parse_models(d / "small_models.yaml")
    return DeviceCatalog(
        socs=MappingProxyType(socs), devices=MappingProxyType(devices), models=MappingProxyType(models),
        precisions=MappingProxyType(precisions), form_factors=MappingProxyType(ffs), directory=str(d),
    )
