"""Named input checks, shared by scenario loading, the CLI and (later) the API.

Each check takes the parsed scenario and the catalog and returns a list of
:class:`~gigafactory.errors.Problem`; an empty list means it passed.  Schema-level
problems (types, missing fields, unknown keys) are found earlier by pydantic in
:mod:`gigafactory.scenario.load`; these checks cover meaning: catalog ids, magnitudes,
consistency and physical possibility, and every refusal of the design and simulation stages
that the scenario alone decides (each check calls the stage's own function, so the rule lives
in one place).  Only what needs the performance search is left to the stages.
"""
from __future__ import annotations

import dataclasses
import difflib
import gzip
import json
import math
from pathlib import Path
from typing import Any, Callable

from gigafactory.catalog import Catalog
from gigafactory.errors import InputError, Problem
from gigafactory.scenario.model import Scenario
from gigafactory.scenario.yamlsource import YamlDocument

#: bytes per weight at each precision (FP4 ignores the small block-scale overhead, so
#: floors computed from it stay lower bounds).
BYTES_PER_PARAM = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5}
#: the largest single site we accept [MW]; above this a value is almost surely in kW.
MAX_SITE_POWER_MW = 5_000.0
MAX_PROGRAMME_POWER_MW = 50_000.0

Check = Callable[[Scenario, Catalog, YamlDocument | None], list[Problem]]
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn

    return register


def _p(doc: YamlDocument | None, path: tuple, message: str, name: str, **kw) -> Problem:
    from gigafactory.scenario.yamlsource import format_path

    return Problem(
        message,
        file=doc.file if doc else None,
        line=doc.line(path) if doc else None,
        field=format_path(path),
        check=name,
        **kw,
    )


@check("site-names-unique")
def site_names_unique(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, site in enumerate(scn.sites):
        key = site.name.lower()
        if key in seen:
            out.append(
                _p(doc, ("sites", i, "name"), f"site name '{site.name}' is used twice (sites[{seen[key]}] and sites[{i}])", "site-names-unique",
                   value=site.name, expected="a unique name per site", fix=f"rename one, e.g. '{site.name}-2'")
            )
        seen.setdefault(key, i)
    return out


@check("power-magnitude")
def power_magnitude(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    out = []
    for i, site in enumerate(scn.sites):
        key = "facility_power_mw" if site.facility_power_mw is not None else "it_power_mw"
        mw = site.power_mw
        if mw <= 0:
            out.append(_p(doc, ("sites", i, key), f"power must be positive, got {mw:g} MW", "power-magnitude",
                          value=mw, expected="a power in MW greater than 0, e.g. 300", fix="give the site's power envelope in MW"))
        elif mw > MAX_SITE_POWER_MW:
            hint = f"if you meant kW, {mw:g} kW = {mw / 1000:g} MW" if mw / 1000 <= MAX_SITE_POWER_MW else "the value is far beyond any site on earth"
            out.append(_p(doc, ("sites", i, key), f"{mw:g} MW is not a plausible single site (largest accepted {MAX_SITE_POWER_MW:g} MW)", "power-magnitude",
                          value=mw, expected=f"0 < power <= {MAX_SITE_POWER_MW:g} MW", fix=hint + "; split very large programmes into several sites"))
    total = sum(s.power_mw for s in scn.sites if s.power_mw > 0)
    if total > MAX_PROGRAMME_POWER_MW and not out:
        out.append(_p(doc, ("sites",), f"the programme totals {total:g} MW, beyond {MAX_PROGRAMME_POWER_MW:g} MW", "power-magnitude",
                      value=total, fix="check the units (MW, not kW) of each site's power"))
    return out


@check("site-fits-one-unit")
def site_fits_one_unit(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    out = []
    for i, site in enumerate(scn.sites):
        sys_id = scn.system_for(site)
        if site.power_mw <= 0 or cat.resolve_id("systems", sys_id) is None:
            continue
        system = cat.system(sys_id)
        unit_mw = system.max_power_w / 1e6
        if site.power_mw < unit_mw:
            key = "facility_power_mw" if site.facility_power_mw is not None else "it_power_mw"
            hint = f"if you meant GW, write {site.power_mw * 1000:g}" if site.power_mw * 1000 <= MAX_SITE_POWER_MW else "raise the power"
            out.append(_p(doc, ("sites", i, key), f"{site.power_mw:g} MW cannot power even one {system.id} ({unit_mw:g} MW each)", "site-fits-one-unit",
                          value=site.power_mw, expected=f"at least {unit_mw:g} MW", fix=hint))
    return out


@check("energisation-phases")
def energisation_phases(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    out = []
    for i, site in enumerate(scn.sites):
        phases = site.energisation_phases_mw
        if not phases:
            continue
        if any(p <= 0 for p in phases):
            out.append(_p(doc, ("sites", i, "energisation_phases_mw"), "every energisation phase must be a positive power", "energisation-phases",
                          value=phases, fix="remove zero or negative phases"))
        elif sum(phases) > site.power_mw * (1 + 1e-9):
            out.append(_p(doc, ("sites", i, "energisation_phases_mw"), f"phases add up to {sum(phases):g} MW, more than the site's {site.power_mw:g} MW",
                          "energisation-phases", value=phases, expected=f"a sum <= {site.power_mw:g} MW", fix="reduce the phases or raise the site power"))
    return out


@check("power-path")
def power_path(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """An explicit on-site or temporary power path needs a site without a grid connection, and a
    temporary bridge cannot carry more than the site (rollout.power)."""
    from gigafactory.rollout.power import grid_exists, method_family

    out = []
    for i, site in enumerate(scn.sites):
        if site.power_path in ("onsite-gas", "temporary-then-grid") and grid_exists(site, method_family(scn.rollout)):
            why = ("grid_ready is true (the default)" if site.grid_ready else
                   "powered_shell is true" if site.powered_shell else "rollout.method is (based on) powered-shell")
            out.append(_p(doc, ("sites", i, "power_path"), f"power_path '{site.power_path}' needs a site without a grid connection, but {why}: "
                          "the grid connection exists at programme start", "power-path", value=site.power_path,
                          expected="grid or auto for a site with a grid connection",
                          fix="set grid_ready: false (and powered_shell: false) if the site has no grid connection yet, or remove power_path"))
        if site.temporary_power_mw is not None and site.temporary_power_mw > site.power_mw * (1 + 1e-9):
            out.append(_p(doc, ("sites", i, "temporary_power_mw"), f"temporary_power_mw {site.temporary_power_mw:g} MW is more than the site's {site.power_mw:g} MW",
                          "power-path", value=site.temporary_power_mw, expected=f"at most {site.power_mw:g} MW", fix="lower temporary_power_mw"))
    return out


def _ids(scn: Scenario) -> list[tuple[tuple, str, str, str | None]]:
    """(path, kind, id, category) of every catalog reference in the scenario."""
    refs: list[tuple[tuple, str, str, str | None]] = [(("systems", "default"), "systems", scn.systems.default, None)]
    refs += [(("systems", "candidates", j), "systems", s, None) for j, s in enumerate(scn.systems.candidates)]
    for i, site in enumerate(scn.sites):
        refs.append((("sites", i, "region"), "regions", site.region, None))
        if site.system:
            refs.append((("sites", i, "system"), "systems", site.system, None))
        if site.cooling:
            refs.append((("sites", i, "cooling"), "facility", site.cooling, "cooling_technology"))
    if scn.fabric.switch:
        refs.append((("fabric", "switch"), "network", scn.fabric.switch, "switch"))
    for i, wl in enumerate(scn.workloads):
        refs.append((("workloads", i, "model"), "models", wl.model, None))
    refs.append((("finance", "cost_profile"), "costs", scn.finance.cost_profile, None))
    if scn.devices.offload_model:
        refs.append((("devices", "offload_model"), "models", scn.devices.offload_model, None))
    return refs


@check("catalog-ids")
def catalog_ids(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    out = []
    for path, kind, ident, category in _ids(scn):
        canonical = cat.resolve_id(kind, ident)
        if canonical is None:
            prob = cat.unknown_problem(kind, ident, field_name=None, file=None)
            out.append(_p(doc, path, prob.message, "catalog-ids", value=ident, expected=prob.expected, fix=prob.fix))
            continue
        entry = cat.tables[kind][canonical]
        if category and getattr(entry, "category", None) != category:
            valid = sorted(e.id for e in cat.tables[kind].values() if getattr(e, "category", None) == category)
            out.append(_p(doc, path, f"'{ident}' is a {getattr(entry, 'category', kind)}, not a {category}", "catalog-ids",
                          value=ident, expected=f"a {category} id", fix=f"use one of: {', '.join(valid)}"))
    return out


@check("workload-shares")
def workload_shares(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    total = sum(w.share for w in scn.workloads)
    if abs(total - 1.0) > 1e-3:
        return [_p(doc, ("workloads",), f"workload shares add up to {total:g}, not 1", "workload-shares",
                   value=[w.share for w in scn.workloads], expected="shares of the GPU fleet that sum to 1",
                   fix="scale the shares so they sum to 1 (e.g. 0.5, 0.3, 0.2)")]
    return []


def _systems_used(scn: Scenario, cat: Catalog) -> list:
    ids = {scn.system_for(s) for s in scn.sites}
    return [cat.system(i) for i in sorted(ids) if cat.resolve_id("systems", i) is not None]


@check("precision-supported")
def precision_supported(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    out = []
    for i, wl in enumerate(scn.workloads):
        for system in _systems_used(scn, cat):
            acc = cat.accelerator(system.accelerator)
            if getattr(acc, f"dense_{wl.precision}_flop_per_s") is None:
                out.append(_p(doc, ("workloads", i, "precision"), f"{acc.name} has no {wl.precision.upper()} tensor cores (system {system.id})",
                              "precision-supported", value=wl.precision, expected="bf16 or fp8 on Hopper; fp4 needs Blackwell or later",
                              fix="use precision: fp8, or a Blackwell system"))
    return out


@check("context-length")
def context_length(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    out = []
    for i, wl in enumerate(scn.workloads):
        if cat.resolve_id("models", wl.model) is None:
            continue
        model = cat.model(wl.model)
        limit = model.max_context_tokens
        if limit and wl.isl_tokens + wl.osl_tokens > limit:
            out.append(_p(doc, ("workloads", i, "isl_tokens"), f"isl + osl = {wl.isl_tokens + wl.osl_tokens} tokens exceeds {model.id}'s context of {limit}",
                          "context-length", value=wl.isl_tokens, expected=f"isl_tokens + osl_tokens <= {limit}", fix="shorten the sequences or pick a longer-context model"))
    return out


def _active_params(model) -> float:
    return float(model.active_params or model.total_params)


@check("model-fits")
def model_fits(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """The weights must fit in the HBM of one NVLink domain (no serving layout can split further
    without pipeline stages over the scale-out fabric, which we do not assume here)."""
    out = []
    for i, wl in enumerate(scn.workloads):
        if cat.resolve_id("models", wl.model) is None:
            continue
        model = cat.model(wl.model)
        weights_b = float(model.total_params) * BYTES_PER_PARAM[wl.precision]
        for system in _systems_used(scn, cat):
            acc = cat.accelerator(system.accelerator)
            domain_b = acc.hbm_capacity_bytes * acc.scale_up_domain_gpus
            if weights_b > domain_b:
                out.append(_p(doc, ("workloads", i, "precision"),
                              f"{model.id} at {wl.precision} needs {weights_b / 1e9:.0f} GB of weights; one {system.id} NVLink domain holds {domain_b / 1e9:.0f} GB",
                              "model-fits", value=wl.precision, expected="weights smaller than one NVLink domain's HBM",
                              fix="use a lower precision (fp8/fp4) or a larger-memory system"))
    return out


@check("slo-physical-floor")
def slo_physical_floor(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """A TPOT target below the time to read the active weights once is impossible.

    Floor = active weight bytes / (HBM bandwidth x GPUs a token can touch) / (1 + draft tokens),
    where a token touches at most the NVLink domain (tensor parallel) plus, for MoE, its
    routed experts' GPUs.  KV-cache reads, compute and communication only add to it.
    """
    out = []
    for i, wl in enumerate(scn.workloads):
        if cat.resolve_id("models", wl.model) is None:
            continue
        model = cat.model(wl.model)
        for system in _systems_used(scn, cat):
            acc = cat.accelerator(system.accelerator)
            gpus = acc.scale_up_domain_gpus + (model.experts_per_token or 0)
            floor_s = _active_params(model) * BYTES_PER_PARAM[wl.precision] / (acc.hbm_bandwidth_bytes_per_s * gpus) / (1 + wl.speculative_tokens)
            if wl.slo.tpot_p99_ms / 1e3 < floor_s:
                out.append(_p(doc, ("workloads", i, "slo", "tpot_p99_ms"),
                              f"TPOT p99 of {wl.slo.tpot_p99_ms:g} ms is below the physical floor of {floor_s * 1e3:.3g} ms for {model.id} on {system.id}",
                              "slo-physical-floor", value=wl.slo.tpot_p99_ms, expected=f"tpot_p99_ms >= {floor_s * 1e3:.3g}",
                              fix="relax the TPOT target, use lower precision or speculative decoding, or a faster system"))
    return out


@check("device-offload-model")
def device_offload_model(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    target = scn.devices.offload_model
    if not target or cat.resolve_id("models", target) is None:
        return []
    served = {cat.resolve_id("models", w.model) for w in scn.workloads}
    if cat.resolve_id("models", target) not in served:
        return [_p(doc, ("devices", "offload_model"), f"offload model '{target}' is not served by any workload", "device-offload-model",
                   value=target, expected="one of the workloads' models", fix="add it to workloads or pick a served model")]
    return []


@check("demand-segments")
def demand_segments(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """Each token segment asks for a served model and a known hour-of-week profile; names are
    unique; contracts take at most every GPU."""
    from gigafactory.demand.profiles import load_profiles

    out: list[Problem] = []
    served = {cat.resolve_id("models", w.model) for w in scn.workloads}
    profiles = load_profiles()
    seen: set[str] = set()
    for i, seg in enumerate(scn.demand.tokens):
        mid = cat.resolve_id("models", seg.model)
        if mid is not None and mid not in served:
            out.append(_p(doc, ("demand", "tokens", i, "model"), f"demand segment '{seg.name}' asks for {mid}, which no workload serves",
                          "demand-segments", value=seg.model, expected=f"one of the workloads' models: {', '.join(sorted(m for m in served if m))}",
                          fix="add a workload for it, change the segment's model, or remove the segment"))
        try:
            profiles.resolve(seg.profile)
        except InputError as exc:
            p0 = exc.problems[0]
            out.append(_p(doc, ("demand", "tokens", i, "profile"), p0.message, "demand-segments", value=seg.profile, fix=p0.fix))
        if seg.name in seen:
            out.append(_p(doc, ("demand", "tokens", i, "name"), f"segment name '{seg.name}' is used twice", "demand-segments",
                          value=seg.name, fix="give each segment its own name"))
        seen.add(seg.name)
    total = sum(c.share_of_gpus for c in scn.demand.contracts)
    if total > 1 + 1e-9:
        out.append(_p(doc, ("demand", "contracts"), f"the contracts take {total:.0%} of the GPUs", "demand-segments", value=round(total, 3),
                      expected="shares of GPUs summing to at most 1", fix="lower share_of_gpus"))
    return out


def _power_key(site) -> str:
    return "facility_power_mw" if site.facility_power_mw is not None else "it_power_mw"


def _relocate(doc: YamlDocument | None, path: tuple, name: str, prob: Problem, value: Any, prefix: str = "") -> Problem:
    """A stage's problem (whose field names a function argument) moved to the scenario key
    ``path`` that caused it, holding ``value``, under check ``name``."""
    from gigafactory.scenario.yamlsource import format_path

    return dataclasses.replace(prob, message=prefix + prob.message, file=doc.file if doc else None,
                               line=doc.line(path) if doc else None, field=format_path(path), value=value, check=name)


# --------------------------------------------------------------------------- devices

def _unknown(doc: YamlDocument | None, path: tuple, what: str, value: str, known: list[str], source: str) -> Problem:
    lowered = {k.lower(): k for k in known}
    hint = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    near = lowered[hint[0]] if hint else None
    return _p(doc, path, f"unknown {what} '{value}'" + (f" — did you mean '{near}'?" if near else ""), "device-known",
              value=value, expected=f"a {what} of {source}: " + ", ".join(known),
              fix=f"use '{near}'" if near else "pick one of those listed")


@check("device-known")
def device_known(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """Each fleet names a device, a local model, a precision, user regions and a profile the
    device data knows, the model fits the device's memory, and the policy is registered."""
    if not scn.devices.fleets:
        return []
    from gigafactory.demand.profiles import load_profiles
    from gigafactory.devices.catalog import load_device_catalog
    from gigafactory.devices.network import load_network
    from gigafactory.devices.routing import POLICIES

    dcat = load_device_catalog()
    regions = load_network().regions
    profiles = load_profiles()
    out = []
    if scn.devices.policy not in POLICIES:
        out.append(_unknown(doc, ("devices", "policy"), "routing policy", scn.devices.policy, list(POLICIES), "the policy registry"))
    for i, fleet in enumerate(scn.devices.fleets):
        base = ("devices", "fleets", i)
        device_ok = fleet.device in dcat.devices
        model_ok = fleet.local_model in dcat.models
        if not device_ok:
            out.append(_unknown(doc, (*base, "device"), "device", fleet.device, sorted(dcat.devices), "devices/data/devices.yaml"))
        if not model_ok:
            out.append(_unknown(doc, (*base, "local_model"), "local model", fleet.local_model, sorted(dcat.models), "devices/data/small_models.yaml"))
        if fleet.precision is not None and fleet.precision not in dcat.precisions:
            out.append(_unknown(doc, (*base, "precision"), "precision", fleet.precision, sorted(dcat.precisions), "devices/data/small_models.yaml"))
        for r in fleet.regions:
            if r not in regions:
                out.append(_unknown(doc, (*base, "regions", r), "user region", r, sorted(regions), "devices/data/network.yaml"))
        try:
            profiles.resolve(fleet.profile)
        except InputError as exc:
            p0 = exc.problems[0]
            out.append(_p(doc, (*base, "profile"), p0.message, "device-known", value=fleet.profile, fix=p0.fix))
        if device_ok and model_ok and (fleet.precision is None or fleet.precision in dcat.precisions):
            from gigafactory.devices.stage import fleet_local_performance

            try:  # the stage's own lookup: a fleet the check passes, the stage runs
                fleet_local_performance(dcat, fleet, i)
            except InputError as exc:
                for prob in exc.problems:
                    out.append(_relocate(doc, (*base, "local_model"), "device-model-fits", prob, fleet.local_model))
    return out


@check("fleet-names-unique")
def fleet_names_unique(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    seen: dict[str, int] = {}
    out = []
    for i, fleet in enumerate(scn.devices.fleets):
        key = fleet.name.lower()
        if key in seen:
            out.append(_p(doc, ("devices", "fleets", i, "name"),
                          f"fleet name '{fleet.name}' is used twice (devices.fleets[{seen[key]}] and devices.fleets[{i}])", "fleet-names-unique",
                          value=fleet.name, expected="a unique name per fleet", fix=f"rename one, e.g. '{fleet.name}-2', or merge the two fleets"))
        seen.setdefault(key, i)
    return out


# --------------------------------------------------------------------------- simulation


@check("simulation-router")
def simulation_router(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """The router must be one the simulator knows (the stage's own lookup, ``make_router``)."""
    from gigafactory.simulate.router import ROUTERS, make_router

    name = scn.simulation.router
    if name in ROUTERS:
        return []
    try:
        make_router(name)
    except InputError as exc:
        return [_relocate(doc, ("simulation", "router"), "simulation-router", p, name) for p in exc.problems]
    return []


#: user trace files up to this size are read in full by the check (the simulator's own
#: reader); larger ones only have their header recognised.
CHEAP_TRACE_BYTES = 1_000_000
#: bytes read from a large trace to recognise its header.
TRACE_SNIFF_BYTES = 65_536


def trace_base_dir(doc: YamlDocument | None) -> Path:
    """Folder a relative trace path is resolved against: the scenario file's, else the
    working directory (text not read from a file)."""
    if doc is not None and doc.file and Path(doc.file).is_file():
        return Path(doc.file).resolve().parent
    return Path.cwd()


def is_trace_file_name(trace: str | None) -> bool:
    """True when ``trace`` names neither a synthetic process nor a bundled trace (so a file)."""
    if trace is None or trace in ("poisson", "diurnal"):
        return False
    from gigafactory.simulate import workload as wlmod

    if trace in wlmod.TRACES:
        return False
    from gigafactory.simulate.run import _GAMMA  # the simulator's own pattern

    return not _GAMMA.match(trace)


def resolve_trace_path(trace: str, doc: YamlDocument | None) -> Path:
    """A trace file path: absolute as given, relative against :func:`trace_base_dir`."""
    p = Path(trace).expanduser()
    return p if p.is_absolute() else trace_base_dir(doc) / p


def _sniff_trace(path: Path) -> None:
    """Recognise a large trace's format from its first line (the simulator's column rule),
    without reading the rest; raises InputError like the reader would."""
    from gigafactory.simulate import workload as wlmod

    with open(path, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            raw = fh.read(TRACE_SNIFF_BYTES)
    except (OSError, EOFError) as exc:
        raise InputError.single(f"cannot read the file: {exc}", file=str(path)) from None
    if b"\x00" in raw[:8192]:
        raise InputError.single("this is a binary file, not CSV/JSONL text", file=str(path),
                                expected="a UTF-8 .csv or .jsonl trace (optionally gzipped)")
    text = raw.decode("utf-8-sig", errors="replace")
    first = next((ln for ln in text.splitlines() if ln.strip()), None)
    if first is None:
        raise InputError.single("the file is empty" if not raw.strip() else "the file starts with a page of blank lines", file=str(path),
                                expected="a header line and one row per request", fix="check you named the right file")
    if first.lstrip().startswith("{"):
        try:
            rec = json.loads(first)
        except json.JSONDecodeError as exc:
            raise InputError.single(f"not valid JSON: {exc.msg}", file=str(path), line=1, expected="one JSON object per line") from None
        header, kind = (list(rec) if isinstance(rec, dict) else []), "jsonl"
    else:
        header, kind = [h.strip() for h in first.split(",")], "csv"
    fmt = wlmod._detect(wlmod._Table(str(path), kind, header, [], 2))
    if fmt == "lengths":
        raise InputError.single("this is a length table (num_prefill_tokens, num_decode_tokens): it has no arrival times, so it is not a trace",
                                file=str(path), field="header", value=header,
                                expected="a trace with arrival times (Azure, Mooncake or arrival_s,input_tokens,output_tokens)")


def trace_problems(trace: str | None, doc: YamlDocument | None, path: tuple = ("simulation", "trace"), name: str = "simulation-trace") -> list[Problem]:
    """Problems with a trace setting: a synthetic process with bad parameters, an unknown
    name, or a file that is missing, unreadable or not a recognised trace."""
    import numpy as np

    from gigafactory.simulate import workload as wlmod

    if trace is None or trace in ("poisson", "diurnal") or trace in wlmod.TRACES:
        return []
    from gigafactory.simulate.run import _GAMMA

    g = _GAMMA.match(trace)
    if g:
        try:  # the simulator's own parse and parameter check (simulate.run.pool_workload)
            cv = float(g.group(1) or 2.0)
            wlmod.gamma_arrivals(1.0, cv, 1.0, np.random.default_rng(0))
            return []
        except (ValueError, InputError):
            return [_p(doc, path, f"'{trace}' does not give a usable coefficient of variation", name, value=trace,
                       expected="gamma-cv<X> with X a positive number, e.g. gamma-cv2 (bursty) or gamma-cv0.5 (regular)",
                       fix="write e.g. gamma-cv2")]
    names = [*wlmod.TRACES, "poisson", "diurnal", "gamma-cv2"]
    choices = f"one of: {', '.join(wlmod.TRACES)}, poisson, diurnal, gamma-cv<X>, or the path of a .csv/.jsonl(.gz) file"
    file = resolve_trace_path(trace, doc)
    base = trace_base_dir(doc)
    where = "" if Path(trace).expanduser().is_absolute() else f" (a relative path is resolved against the scenario file's folder, {base})"
    if not file.exists():
        hint = difflib.get_close_matches(trace, names, n=1, cutoff=0.5)
        looks_like_path = any(c in trace for c in "/\\") or Path(trace).suffix.lower() in (".csv", ".jsonl", ".json", ".gz", ".txt")
        if hint:
            return [_p(doc, path, f"unknown trace '{trace}' — did you mean '{hint[0]}'?", name, value=trace, expected=choices,
                       fix=f"use '{hint[0]}'")]
        if looks_like_path:
            return [_p(doc, path, f"no such trace file: {file}{where}", name, value=trace, expected=choices,
                       fix="check the path, or name a bundled trace")]
        return [_p(doc, path, f"unknown trace '{trace}': not a bundled trace, a synthetic process, nor a file{where}", name,
                   value=trace, expected=choices, fix="check the spelling or the path")]
    if file.is_dir():
        return [_p(doc, path, f"{file} is a directory, not a trace file", name, value=trace, expected=choices,
                   fix="name the .csv or .jsonl file inside it")]
    try:
        size = file.stat().st_size
        if size <= CHEAP_TRACE_BYTES:
            wlmod.load_trace(str(file))  # the simulator's own reader: every problem, with its line
        else:
            _sniff_trace(file)
    except OSError as exc:
        return [_p(doc, path, f"cannot read the trace file {file}: {exc.strerror}", name, value=trace, fix="check the file's permissions")]
    except InputError as exc:
        out = []
        for p in exc.problems:
            at = f"{file}" + (f":{p.line}" if p.line else "")
            out.append(_relocate(doc, path, name, p, trace, prefix=f"trace file {at}: "))
        return out
    return []


@check("simulation-trace")
def simulation_trace(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """The trace is bundled, synthetic (poisson, diurnal, gamma-cv<X>) or a readable trace file."""
    return trace_problems(scn.simulation.trace, doc)


# --------------------------------------------------------------------------- design
#
# The designer's refusals (design/factory.py design_site, design/thermal.py, design/fabric.py),
# made checks by calling the same functions with the same arguments.

#: power-chain mode the designer sizes facility losses with (design.factory.design_site).
DESIGN_CHAIN_MODE = "eco"


def _cooling_technologies(cat: Catalog) -> list:
    return [e for e in cat.kind("facility").values() if getattr(e, "category", None) == "cooling_technology"]


def _site_resolves(scn: Scenario, cat: Catalog, site) -> bool:
    """Catalog ids and power of ``site`` are sound (other checks report them otherwise)."""
    if cat.resolve_id("regions", site.region) is None or cat.resolve_id("systems", scn.system_for(site)) is None:
        return False
    if cat.resolve_id("costs", scn.finance.cost_profile) is None:
        return False
    if site.cooling:
        cid = cat.resolve_id("facility", site.cooling)
        if cid is None or getattr(cat.tables["facility"][cid], "category", None) != "cooling_technology":
            return False
    return math.isfinite(site.power_mw) and 0 < site.power_mw <= MAX_SITE_POWER_MW


def _rack(cat: Catalog, scn: Scenario, site) -> tuple[Any, float, float]:
    system = cat.system(scn.system_for(site))
    return system, system.max_power_w * (system.units_per_rack or 1), system.liquid_cooled_fraction


@check("design-cooling")
def design_cooling(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """A site's cooling technology must be able to cool its racks (design.thermal.cooling_problem)."""
    from gigafactory.design import thermal

    out = []
    for i, site in enumerate(scn.sites):
        if not site.cooling or not _site_resolves(scn, cat, site):
            continue
        system, rack_w, liquid = _rack(cat, scn, site)
        tech = cat.get("facility", site.cooling)
        problem = thermal.cooling_problem(tech, rack_w, liquid)
        if problem:
            able = [t.id for t in _cooling_technologies(cat) if thermal.cooling_problem(t, rack_w, liquid) is None]
            out.append(_p(doc, ("sites", i, "cooling"), f"{tech.id} cannot cool {system.id} racks: {problem}", "design-cooling",
                          value=site.cooling, expected=f"a cooling technology able to cool {rack_w / 1e3:g} kW racks ({liquid:.0%} liquid): "
                          + (", ".join(able) or "none in the catalog"),
                          fix="remove `cooling` to let the designer choose" + (f", or use {able[0]}" if able else "")))
    return out


@check("cooling-capacity")
def cooling_capacity(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """With no cooling named, some catalog technology must be able to cool the racks
    (the designer's choice, design.thermal.choose_cooling, refuses otherwise)."""
    from gigafactory.design import thermal

    out = []
    for i, site in enumerate(scn.sites):
        if site.cooling or not _site_resolves(scn, cat, site):
            continue
        system, rack_w, liquid = _rack(cat, scn, site)
        techs = _cooling_technologies(cat)
        if not any(thermal.cooling_problem(t, rack_w, liquid) is None for t in techs):
            densest = max(techs, key=lambda t: t.max_rack_density_w)
            path = ("sites", i, "system") if site.system else ("systems", "default")
            out.append(_p(doc, path, f"no cooling technology in the catalog can cool {system.id}'s {rack_w / 1e3:g} kW racks "
                          f"({liquid:.0%} liquid-cooled)", "cooling-capacity", value=system.id,
                          expected=f"at most {densest.max_rack_density_w / 1e3:g} kW per rack ({densest.id})",
                          fix="choose another system"))
    return out


@dataclasses.dataclass(frozen=True)
class SiteSizing:
    """What the designer derives from a site before sizing it: the cooling it uses, its
    design PUE and the whole scalable units its power allows (design.factory.design_site)."""

    system: Any
    cooling_id: str
    pue_design: float
    su_it_w: float
    scalable_units: int


def site_sizing(cat: Catalog, scn: Scenario, site) -> SiteSizing | None:
    """The designer's cooling choice, design PUE and SU count for ``site`` (None when the
    site's ids, power or cooling are unsound: other checks report those)."""
    import numpy as np

    from gigafactory.design import thermal
    from gigafactory.design.factory import design_temperature_c
    from gigafactory.design.power import chain_efficiencies, chain_loss_fraction
    from gigafactory.design.sizing import scalable_units_for_it_power, su_it_max_w

    if not _site_resolves(scn, cat, site):
        return None
    system, rack_w, liquid = _rack(cat, scn, site)
    region = cat.region(site.region)
    mean_c = np.asarray(region.monthly_mean_temp_c, dtype=float)
    max_c = np.asarray(region.monthly_mean_max_temp_c, dtype=float) if region.monthly_mean_max_temp_c else None
    rh = np.asarray(region.monthly_mean_relative_humidity_percent, dtype=float) if region.monthly_mean_relative_humidity_percent else None
    loss = chain_loss_fraction(*chain_efficiencies(cat, DESIGN_CHAIN_MODE))
    if site.cooling:
        tech = cat.get("facility", site.cooling)
        if thermal.cooling_problem(tech, rack_w, liquid):
            return None
        cooling_id = tech.id
    else:
        try:
            cooling_id = thermal.choose_cooling(cat, rack_w, liquid, mean_c, max_c, power_chain_loss_fraction=loss, relative_humidity_percent=rh)
        except InputError:
            return None
    pue = thermal.design_pue(cat.get("facility", cooling_id), design_temperature_c(region), loss, liquid_fraction=liquid)
    budget_w = site.power_mw * 1e6 / pue if site.facility_power_mw is not None else site.power_mw * 1e6
    return SiteSizing(system, cooling_id, pue, su_it_max_w(cat, system), scalable_units_for_it_power(cat, system, budget_w))


@check("design-min-su")
def design_min_su(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """A site's power (facility power over the design PUE) must hold one whole scalable unit."""
    out = []
    for i, site in enumerate(scn.sites):
        sz = site_sizing(cat, scn, site)
        if sz is None or sz.scalable_units >= 1 or site.power_mw < sz.system.max_power_w / 1e6:
            continue  # (below one unit, site-fits-one-unit says so)
        facility = site.facility_power_mw is not None
        need = sz.su_it_w * (sz.pue_design if facility else 1) / 1e6
        out.append(_p(doc, ("sites", i, _power_key(site)),
                      f"{site.power_mw:g} MW cannot power one scalable unit of {sz.system.id} ({sz.system.scalable_unit_units} units, "
                      f"{sz.su_it_w / 1e6:.2f} MW IT, {sz.su_it_w * sz.pue_design / 1e6:.2f} MW facility at design PUE {sz.pue_design:.2f} with {sz.cooling_id})",
                      "design-min-su", value=site.power_mw, expected=f"at least {need:.2f} MW",
                      fix="raise the site's power or choose a system with a smaller scalable unit"))
    return out


@check("design-floor")
def design_floor(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """A floor-area limit must hold one scalable unit (design.sizing.floor_area_per_su_m2)."""
    from gigafactory.design.sizing import floor_area_per_su_m2

    out = []
    for i, site in enumerate(scn.sites):
        if site.floor_area_m2 is None or cat.resolve_id("systems", scn.system_for(site)) is None:
            continue
        system = cat.system(scn.system_for(site))
        per_su = floor_area_per_su_m2(cat, system)
        if int(site.floor_area_m2 // per_su) < 1:
            out.append(_p(doc, ("sites", i, "floor_area_m2"),
                          f"{site.floor_area_m2:g} m^2 cannot hold one scalable unit of {system.id} (needs ~{per_su:,.0f} m^2 with electrical and mechanical space)",
                          "design-floor", value=site.floor_area_m2, expected=f">= {per_su:,.0f} m^2", fix="raise floor_area_m2 or remove it"))
    return out


def _island_that_fits(cat: Catalog, scn: Scenario, system: Any, sus: int) -> int:
    """The largest island (in SUs, halving from ``sus``) whose fabrics the designer can build; 0 if none."""
    from gigafactory.design import fabric as fabric_mod

    gpus_per_su = system.scalable_unit_units * system.gpus
    n = sus // 2
    while n >= 1:
        try:
            fabric_mod.compute_fabric(cat, system.id, n * gpus_per_su, scn.fabric.compute, scn.fabric.oversubscription, scn.fabric.switch)
            fabric_mod.frontend_fabric(cat, system.id, n * system.scalable_unit_units)
            return n
        except InputError:
            n //= 2
    return 0


@check("fabric-design")
def fabric_design(scn: Scenario, cat: Catalog, doc: YamlDocument | None) -> list[Problem]:
    """The designer can build each site's compute and front-end fabric islands: the switch
    fits the technology, a default switch exists for the system, and an island fits a 3-tier
    fat tree (the designer's own calls: design.factory.island_sus, design.fabric)."""
    from gigafactory.design import fabric as fabric_mod
    from gigafactory.design.factory import island_sus
    from gigafactory.design.sizing import floor_area_per_su_m2

    fab = scn.fabric
    if fab.switch:
        sid = cat.resolve_id("network", fab.switch)
        if sid is None or getattr(cat.tables["network"][sid], "category", None) != "switch":
            return []  # catalog-ids reports it
    out: list[Problem] = []
    seen: set[str] = set()
    for i, site in enumerate(scn.sites):
        sz = site_sizing(cat, scn, site)
        if sz is None or sz.scalable_units < 1:
            continue
        system, sus = sz.system, sz.scalable_units
        if site.floor_area_m2 is not None:
            sus = min(sus, int(site.floor_area_m2 // floor_area_per_su_m2(cat, system)))
            if sus < 1:
                continue
        gpus_per_su = system.scalable_unit_units * system.gpus
        per = sus
        try:
            per = island_sus(cat, scn, system, sus)
            fabric_mod.compute_fabric(cat, system.id, per * gpus_per_su, fab.compute, fab.oversubscription, fab.switch)
            fabric_mod.frontend_fabric(cat, system.id, per * system.scalable_unit_units)
        except InputError as exc:
            for p in exc.problems:
                if p.field == "switch_id":
                    path, value = (("fabric", "switch"), fab.switch) if fab.switch else (("fabric", "compute"), fab.compute)
                    fix = p.fix if fab.switch else f"set fabric.switch to a {fab.compute} switch (`gigafactory catalog list network`) or change fabric.compute"
                elif p.field == "endpoints" and fab.island_max_gpus:
                    path, value = ("fabric", "island_max_gpus"), fab.island_max_gpus
                    fits = _island_that_fits(cat, scn, system, per)
                    fix = f"lower fabric.island_max_gpus to {fits * gpus_per_su}" if fits else f"use a higher-radix switch; {p.fix}"
                else:
                    path, value = ("sites", i, _power_key(site)), site.power_mw
                    fits = _island_that_fits(cat, scn, system, per)
                    fix = (f"split the site into fabric islands with `fabric: {{island_max_gpus: {fits * gpus_per_su}}}`, or use a higher-radix switch"
                           if fits else f"use a higher-radix switch; {p.fix}")
                key = f"{path}{p.message}"
                if key in seen:
                    continue
                seen.add(key)
                out.append(dataclasses.replace(_relocate(doc, path, "fabric-design", p, value, prefix=f"{site.name} ({system.id}, {fab.compute}): "), fix=fix))
    return out


def run_checks(scn: Scenario, cat: Catalog, doc: YamlDocument | None = None, names: list[str] | None = None) -> list[Problem]:
    """Run the named checks (all by default) and return every problem found."""
    problems: list[Problem] = []
    for name in names or list(CHECKS):
        problems.extend(CHECKS[name](scn, cat, doc))
    return problems
