"""Named input checks, shared by scenario loading, the CLI and (later) the API.

Each check takes the parsed scenario and the catalog and returns a list of
:class:`~gigafactory.errors.Problem`; an empty list means it passed.  Schema-level
problems (types, missing fields, unknown keys) are found earlier by pydantic in
:mod:`gigafactory.scenario.load`; these checks cover meaning: catalog ids, magnitudes,
consistency and physical possibility.
"""
from __future__ import annotations

from typing import Callable

from gigafactory.catalog import Catalog
from gigafactory.errors import Problem
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
    for i, fleet in enumerate(scn.devices.fleets):
        refs.append((("devices", "fleets", i, "local_model"), "models", fleet.local_model, None))
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


def run_checks(scn: Scenario, cat: Catalog, doc: YamlDocument | None = None, names: list[str] | None = None) -> list[Problem]:
    """Run the named checks (all by default) and return every problem found."""
    problems: list[Problem] = []
    for name in names or list(CHECKS):
        problems.extend(CHECKS[name](scn, cat, doc))
    return problems
