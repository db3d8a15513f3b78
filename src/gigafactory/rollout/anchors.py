"""Real AI-campus timelines (rollout/data/campuses.yaml) as calibration and validation anchors
for the build-method presets.

Each campus with realised (``status: actual``) milestones gets a look-alike scenario: the
bundled default scenario with one site of the campus's MW, phases, region, system and
``powered_shell`` / ``grid_ready`` setting, built with the method that matches its building
condition (`ANCHOR_SPECS`, one stated reason each).  It is designed (`design_factory`) and
planned with the same task graph, list scheduler and Monte Carlo as `plan_rollout`, and the
model's P10/P50/P90 durations from programme start are set against the observed ones.

Observed durations are intervals: a milestone dated "June 2025" from a start dated "June
2024" spans 336-394 days.  The error of a prediction is 0 when its P50 lies inside the
interval, else the distance to the nearer end relative to the interval's midpoint (signed:
positive when the model is slower than reality).

`fit_presets` recalibrates the few preset parameters that drive the misfit on the FIT anchors
only (a small grid per parameter, in a fixed order, printed); the HOLDOUT anchors are never
seen by it.  `python -m gigafactory.rollout.anchors` prints the fit and the error table.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import yaml

from gigafactory.pipeline.streams import stream
from gigafactory.rollout import presets as presets_mod
from gigafactory.rollout.listsched import schedule_fast
from gigafactory.rollout.presets import PRESETS, MethodPreset
from gigafactory.rollout.risk import _graph, longest_path, sample_durations
from gigafactory.rollout.tasks import HOURS_PER_DAY, build_tasks

#: model quantities an anchor can be compared on (all in days from programme start)
QUANTITIES = {
    "first_racks": "start of the first rack install (first su/install)",
    "energised": "end of the first energisation phase (energise-0: ready for service)",
    "second_phase_energised": "end of the second energisation phase (energise-1)",
    "second_phase_gap": "end of energise-0 to the end of energise-1 (second_phase_energised - energised)",
    "first_phase_capacity": "last acceptance of the scalable units of the first phase",
    "first_phase_install": "first rack install to the last acceptance of the first phase (first_phase_capacity - first_racks)",
    "first_token": "end of the first site software deployment (first production token)",
    "full_capacity": "last acceptance (every GPU online)",
    "first_token_to_full": "first token to the last acceptance (full_capacity - first_token)",
    "first_racks_to_full": "first rack install to the last acceptance (full_capacity - first_racks)",
}


def load_campuses() -> dict[str, Any]:
    """campuses.yaml as shipped with the package (rollout/data/*.yaml is package data)."""
    text = (resources.files("gigafactory.rollout") / "data" / "campuses.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


# ---------------------------------------------------------------------------------------------
# The look-alike scenario of each realised campus


@dataclass(frozen=True)
class AnchorSpec:
    """How one campus is turned into a scenario, and which of its milestones are compared."""

    campus: str
    method: str  # build-method preset matching the campus's building condition
    method_reason: str
    facility_power_mw: float
    phases_mw: tuple[float, ...] | None
    system: str
    region: str  # closest catalog region (only climate / PUE and shipping distance differ among US regions here)
    powered_shell: bool = False
    grid_ready: bool = True
    power_path: str | None = None  # scenario sites[].power_path where the site has no grid connection at start
    # (model quantity, milestone in campuses.yaml[, start milestone]); durations run from
    # `construction_start` unless a start milestone is named
    observe: tuple[tuple[str, ...], ...] = ()
    assumptions: tuple[str, ...] = ()


ANCHOR_SPECS: dict[str, AnchorSpec] = {s.campus: s for s in (
    AnchorSpec(
        "xai-colossus-1", "powered-shell", "existing building with utility service; fit-out of the halls only (planner_mapping: powered-shell)",
        216, None, "dgx-h100", "us-texas", powered_shell=True,
        observe=(("first_racks", "first_racks"), ("first_token", "first_token"), ("full_capacity", "full_capacity"),
                 ("first_token_to_full", "full_capacity", "first_token")),
        assumptions=("216 MW so the design holds ~100k H100, the scope of the 122-day claim (the stated 150 MW peak designs to fewer GPUs)",
                     "region us-texas: no Tennessee region in the catalog (hot, humid; US shipping)"),
    ),
    AnchorSpec(
        "xai-colossus-2", "conversion", "existing warehouse, whole power and cooling plant new (chillers, turbines, switchgear): no shell, new M&E",
        1000, (200.0, 800.0), "gb200-nvl72", "us-texas", grid_ready=False, power_path="onsite-gas",
        observe=(("first_racks", "first_racks"), ("full_capacity", "full_capacity"), ("first_racks_to_full", "full_capacity", "first_racks")),
        assumptions=("1,000 MW in phases [200, 800] (first phase 170-200 MW; 1 GW claimed operational)",
                     ("power: on-site generation (campuses.yaml conditions.power onsite-generation+grid-partial; MLGW supplied 30 MW): "
                     "grid_ready false, power_path onsite-gas"),
                     "full capacity = the claimed '1 GW operational'; the share with GPUs installed is not stated"),
    ),
    AnchorSpec(
        "stargate-abilene", "fast-track", ("greenfield, site-built shells and plant, ODM racks (no prefab claim), built around the clock "
                                           "with the design-build team in place before construction and phase 2's buildings in parallel"),
        1200, (200.0, 1000.0), "gb200-nvl72", "us-texas",
        observe=(("first_racks", "first_racks"), ("first_token", "first_token"), ("first_phase_install", "two_buildings_running", "first_racks"),
                 ("full_capacity", "full_capacity")),
        assumptions=("scenario_hint of campuses.yaml: 1,200 MW, phases [200, 1000], grid ready, GB200",
                     ("'two buildings running' (~206 MW) = the first 200 MW phase fully accepted; compared as the span from the first "
                     "racks, so the install rate is judged apart from the construction path")),
    ),
    AnchorSpec(
        "meta-kansas-city", "stick-built", "conventional hyperscale greenfield on an available grid",
        150, None, "gb200-nvl72", "us-iowa",
        observe=(("first_token", "first_token"),),
        assumptions=("MW not disclosed: 150 MW assumed (~1 million sq ft, 3 buildings)",
                     "not a GPU design: GB200 stands in; 'serving traffic' = first token", "region us-iowa: closest Midwest region"),
    ),
    AnchorSpec(
        "microsoft-fairwater-wisconsin", "stick-built", "hyperscaler AI greenfield on an available grid",
        300, None, "gb200-nvl72", "us-iowa",
        observe=(("first_token", "first_token"), ("full_capacity", "full_capacity"), ("first_token_to_full", "full_capacity", "first_token")),
        assumptions=("MW not disclosed: 300 MW assumed (as in docs/rollout-anchors.md)", "region us-iowa: closest Midwest region"),
    ),
    AnchorSpec(
        "microsoft-fairwater-atlanta", "stick-built", "AI hall built inside a developer's greenfield campus, grid available",
        350, None, "gb200-nvl72", "us-virginia",
        observe=(("first_token", "first_token"),),
        assumptions=("350 MW operational (low-confidence aggregator figure)", "region us-virginia: closest south-eastern region"),
    ),
    AnchorSpec(
        "core-scientific-denton", "conversion", "partly built mining facility with grid power, new liquid cooling and electrical rework",
        60, (10.0, 50.0), "gb200-nvl72", "us-texas",
        observe=(("energised", "energised"),),
        assumptions=("first 8 MW IT billable = energise-0 of a ~10 MW facility phase; 60 MW site (first + second tranche)",
                     "GPU model not stated: GB200 stands in (only energise-0 is compared)"),
    ),
    AnchorSpec(
        "applied-digital-polaris-forge-1", "stick-built", "purpose-built greenfield AI building on land with grid power",
        100, (50.0, 50.0), "gb200-nvl72", "us-iowa",
        observe=(("energised", "energised"), ("second_phase_energised", "building1_full"), ("second_phase_gap", "building1_full", "energised")),
        assumptions=("scenario_hint of campuses.yaml: 100 MW in phases [50, 50], grid ready, GB200",
                     "landlord milestones (ready for service): compared with energise-0 / energise-1, not with GPU installs",
                     "region us-iowa: closest to North Dakota"),
    ),
)}


def _date_range(value: Any) -> tuple[dt.date, dt.date]:
    if isinstance(value, dict):
        return dt.date.fromisoformat(str(value["earliest"])), dt.date.fromisoformat(str(value["latest"]))
    d = dt.date.fromisoformat(str(value))
    return d, d


@dataclass(frozen=True)
class Observation:
    quantity: str
    milestone: str
    lo_days: float  # latest start to earliest end
    hi_days: float  # earliest start to latest end
    status: str  # actual | planned
    confidence: str

    @property
    def mid_days(self) -> float:
        return 0.5 * (self.lo_days + self.hi_days)


@dataclass(frozen=True)
class Anchor:
    spec: AnchorSpec
    name: str
    split: str  # fit | holdout
    start: tuple[dt.date, dt.date]
    observations: tuple[Observation, ...]


def anchors(include_planned: bool = False, data: dict[str, Any] | None = None) -> list[Anchor]:
    """Every campus of `ANCHOR_SPECS` with its observed durations (realised milestones only,
    planned ones too with ``include_planned``), in campuses.yaml order."""
    data = data or load_campuses()
    out = []
    for c in data["campuses"]:
        spec = ANCHOR_SPECS.get(c["id"])
        if spec is None:
            continue
        ms = c["milestones"]
        ok = ("actual", "planned") if include_planned else ("actual",)
        obs = []
        for quantity, key, *since in spec.observe:
            m, m0 = ms.get(key) or {}, ms.get(since[0] if since else "construction_start") or {}
            if m.get("date") is None or m0.get("date") is None or m.get("status") not in ok or m0.get("status") not in ok:
                continue
            s0, s1 = _date_range(m0["date"])
            e0, e1 = _date_range(m["date"])
            label = f"{since[0]} -> {key}" if since else key
            obs.append(Observation(quantity, label, float((e0 - s1).days), float((e1 - s0).days), m["status"], m.get("confidence", "")))
        if obs:
            out.append(Anchor(spec, c["name"], c["split"], _date_range(ms["construction_start"]["date"]), tuple(obs)))
    return out


def _schema_methods() -> tuple[str, ...]:
    from gigafactory.scenario.model import BUILT_IN_METHODS
    return BUILT_IN_METHODS


def anchor_scenario(cat: Any, spec: AnchorSpec, samples: int = 200, method: str | None = None, start: dt.date | None = None):
    """The default scenario reduced to the campus's single site, system and build method."""
    from gigafactory.scenario import default_scenario_path, parse_scenario_text

    method = method or spec.method
    data = yaml.safe_load(default_scenario_path().read_text(encoding="utf-8"))
    site: dict[str, Any] = {"name": spec.campus[:64], "region": spec.region, "facility_power_mw": spec.facility_power_mw,
                            "powered_shell": spec.powered_shell, "grid_ready": spec.grid_ready}
    if spec.phases_mw:
        site["energisation_phases_mw"] = list(spec.phases_mw)
    if spec.power_path:
        site["power_path"] = spec.power_path
    data["sites"] = [site]
    data["systems"] = {"default": spec.system}
    in_schema = method in _schema_methods()
    data["rollout"] = {"method": method if in_schema else "stick-built", "start_date": (start or dt.date(2026, 3, 1)).isoformat(),
                       "monte_carlo_samples": samples}
    if spec.system in ("dgx-h100", "dgx-h200"):
        # Hopper: no FP4, and DeepSeek-R1 in FP8 does not fit; one FP8 70B model (as tests/test_rollout.py)
        data["workloads"] = [{"model": "llama-3.1-70b", "share": 1.0, "precision": "fp8", "isl_tokens": 2048, "osl_tokens": 512,
                              "slo": {"ttft_p99_ms": 2000, "tpot_p99_ms": 100}}]
        data["devices"] = {"fleets": []}
    data["demand"] = {"tokens": [], "contracts": []}  # the anchors test the build, not the sales
    scn = parse_scenario_text(yaml.safe_dump(data), f"anchor:{spec.campus}", cat)
    if not in_schema:
        # a candidate preset not (yet) accepted by the scenario schema: set it as compare_methods does
        scn = scn.model_copy(update={"rollout": scn.rollout.model_copy(update={"method": method})})
    return scn


# ---------------------------------------------------------------------------------------------
# Presets under evaluation


@contextmanager
def preset_overrides(overrides: dict[str, MethodPreset] | None = None) -> Iterator[None]:
    """Temporarily put ``overrides`` (and the candidate presets, e.g. ``conversion``) into
    `PRESETS`, which `build_tasks` reads; restored on exit (process-global: not thread-safe)."""
    saved = dict(PRESETS)
    PRESETS.update(presets_mod.CANDIDATE_PRESETS)
    PRESETS.update(overrides or {})
    try:
        yield
    finally:
        PRESETS.clear()
        PRESETS.update(saved)


_DESIGNS: dict[tuple[int, str, str], tuple[Any, Any]] = {}


def _scenario_and_design(cat: Any, spec: AnchorSpec, method: str):
    """Scenario and design of an anchor (the design does not depend on the build method)."""
    key = (id(cat), spec.campus, method)
    if key not in _DESIGNS:
        from gigafactory.design.factory import design_factory

        scn = anchor_scenario(cat, spec, method=method)
        _DESIGNS[key] = (scn, design_factory(cat, scn))
    return _DESIGNS[key]


def milestone_samples(tasks, plan, n_samples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every `QUANTITIES` entry per Monte Carlo sample [days], drawn exactly as
    `risk.simulate` draws (same order, same generator), so first token and full capacity equal
    `plan_rollout`'s samples."""
    order, preds = _graph(tasks, plan)
    start, finish, _ = longest_path(preds, sample_durations(order, n_samples, rng))
    pos = {t.id: i for i, t in enumerate(order)}
    phase_of_su = {(t.site, t.su): t.phase for t in order if t.kind == "install"}
    kinds: dict[str, list[int]] = {}
    for i, t in enumerate(order):
        kinds.setdefault(t.kind, []).append(i)
    site = order[kinds["software"][0]].site
    out = {
        "first_racks": start[kinds["install"]].min(axis=0),
        "first_token": finish[kinds["software"]].min(axis=0),
        "full_capacity": finish[kinds["accept"]].max(axis=0),
        "first_phase_capacity": finish[[i for i in kinds["accept"] if phase_of_su.get((order[i].site, order[i].su)) == 0]].max(axis=0),
    }
    out["first_phase_install"] = out["first_phase_capacity"] - out["first_racks"]
    out["first_token_to_full"] = out["full_capacity"] - out["first_token"]
    out["first_racks_to_full"] = out["full_capacity"] - out["first_racks"]
    for k, name in ((0, "energised"), (1, "second_phase_energised")):
        if f"{site}/energise-{k}" in pos:
            out[name] = finish[pos[f"{site}/energise-{k}"]]
    if "second_phase_energised" in out:
        out["second_phase_gap"] = out["second_phase_energised"] - out["energised"]
    return {k: v / HOURS_PER_DAY for k, v in out.items()}


_PREDICTIONS: dict[tuple, dict[str, tuple[float, float, float]]] = {}


def _physics(p: MethodPreset) -> MethodPreset:
    """The preset without its texts (the memo key: notes do not change a schedule)."""
    return dataclasses.replace(p, description="", notes=())


def predict(cat: Any, spec: AnchorSpec, samples: int = 200, overrides: dict[str, MethodPreset] | None = None,
            method: str | None = None) -> dict[str, tuple[float, float, float]]:
    """P10 / P50 / P90 [days] of every quantity for the anchor's scenario under the presets
    (with ``overrides``); memoised on the presets the scenario uses."""
    method = method or spec.method
    scn, design = _scenario_and_design(cat, spec, method)
    with preset_overrides(overrides):
        key = (id(cat), spec.campus, method, samples, _physics(PRESETS[method]), _physics(PRESETS["powered-shell"]) if spec.powered_shell else None)
        if key in _PREDICTIONS:
            return _PREDICTIONS[key]
        tasks = build_tasks(scn, design, cat)
    plan = schedule_fast(tasks)
    ms = milestone_samples(tasks, plan, samples, stream(scn.seed, "rollout.risk"))
    out = {k: (float(np.percentile(v, 10)), float(np.percentile(v, 50)), float(np.percentile(v, 90))) for k, v in ms.items()}
    _PREDICTIONS[key] = out
    return out


# ---------------------------------------------------------------------------------------------
# Errors


def interval_error(value: float, lo: float, hi: float) -> float:
    """0 inside [lo, hi], else the signed distance to the nearer end over the midpoint
    (positive: the model is slower than reality)."""
    mid = 0.5 * (lo + hi)
    if value > hi:
        return (value - hi) / mid
    if value < lo:
        return (value - lo) / mid
    return 0.0


@dataclass(frozen=True)
class AnchorError:
    campus: str
    split: str  # fit | holdout
    method: str
    quantity: str
    milestone: str
    status: str  # actual | planned
    confidence: str
    observed_days: tuple[float, float]  # interval (lo, hi)
    predicted_p10_days: float
    predicted_p50_days: float
    predicted_p90_days: float
    rel_error: float  # P50 against the interval: 0 inside, else distance to the nearer end / midpoint (signed)
    inside_p10_p90: bool  # the model's P10-P90 band overlaps the observed interval

    @property
    def abs_error(self) -> float:
        return abs(self.rel_error)


def anchor_errors(cat: Any, split: str | None = None, samples: int = 200, overrides: dict[str, MethodPreset] | None = None,
                  include_planned: bool = False, campuses: Iterable[str] | None = None) -> list[AnchorError]:
    """Model vs observed for every realised anchor (``split``: 'fit', 'holdout' or None for both)."""
    wanted = set(campuses) if campuses is not None else None
    out = []
    for a in anchors(include_planned=include_planned):
        if (split and a.split != split) or (wanted is not None and a.spec.campus not in wanted):
            continue
        pred = predict(cat, a.spec, samples, overrides)
        for o in a.observations:
            p10, p50, p90 = pred[o.quantity]
            out.append(AnchorError(a.spec.campus, a.split, a.spec.method, o.quantity, o.milestone, o.status, o.confidence,
                                   (o.lo_days, o.hi_days), p10, p50, p90, interval_error(p50, o.lo_days, o.hi_days),
                                   p10 <= o.hi_days and p90 >= o.lo_days))
    return out


def summary(errors: Sequence[AnchorError]) -> dict[str, float]:
    """Median and worst absolute relative error, and the share inside P10-P90."""
    e = [x.abs_error for x in errors]
    if not e:
        return {"n": 0}
    return {"n": len(e), "median": float(np.median(e)), "worst": float(max(e)),
            "inside_p10_p90": sum(x.inside_p10_p90 for x in errors) / len(errors)}


def format_errors(errors: Sequence[AnchorError]) -> str:
    rows = ["| campus | split | method | quantity | observed [d] | model P10 / P50 / P90 [d] | error | in P10-P90 |",
            "| --- | --- | --- | --- | --- | --- | ---: | --- |"]
    for e in errors:
        lo, hi = e.observed_days
        obs = f"{lo:,.0f}" if lo == hi else f"{lo:,.0f}-{hi:,.0f}"
        if e.status != "actual":
            obs += f" ({e.status})"
        rows.append(f"| {e.campus} | {e.split} | {e.method} | {e.quantity} | {obs} | {e.predicted_p10_days:,.0f} / "
                    f"**{e.predicted_p50_days:,.0f}** / {e.predicted_p90_days:,.0f} | {e.rel_error:+.0%} | {'yes' if e.inside_p10_p90 else 'no'} |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------------------------
# Fitting the presets on the FIT anchors

#: grid of each fit parameter (values tried, one parameter at a time, in FIT_PLAN order)
FIT_GRIDS: dict[str, tuple[float, ...]] = {
    "construction_scale": (0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.75),
    "next_phase_scale": (0.0, 0.25, 0.5, 0.75, 1.0),
    "install_crews_per_100mw": (5.0, 10.0, 15.0, 20.0, 30.0, 40.0),
    "lead_scale": (0.6, 0.7, 0.8, 0.9, 1.0, 1.2),
    "construction_labour_share": (0.25, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0),
}
#: Monte Carlo samples per evaluation while fitting (as in the reported error tables)
FIT_SAMPLES = 200


def _prior(method: str, name: str) -> float:
    base = presets_mod.STICK_BUILT_BASE if method in ("stick-built", "fast-track", "conversion") else presets_mod.POWERED_SHELL_BASE
    if name == "install_crews_per_100mw":
        return float(base.crews_per_100mw)
    if name == "construction_labour_share":
        return float(base.construction_labour_share)
    return 1.0


#: presets built from the fitted stick-built one (their own fit parameters on top)
DERIVED = {"fast-track": presets_mod.fast_track_base, "conversion": presets_mod.conversion_base}


def candidate_preset(method: str, params: dict[str, float], fitted: dict[str, dict[str, float]] | None = None) -> MethodPreset:
    """The preset ``method`` with fit ``params`` applied to its base (fast-track and conversion
    start from the stick-built preset with ``fitted['stick-built']``).  The construction labour
    share, fitted on fast-track, is shared by every preset (``fitted['fast-track']``, else the prior)."""
    fitted = presets_mod.FITTED if fitted is None else fitted
    share = {k: v for k, v in fitted.get("fast-track", {}).items() if k == "construction_labour_share"}
    if method == "stick-built":
        return presets_mod.calibrate(presets_mod.STICK_BUILT_BASE, {**share, **params})
    if method in DERIVED:
        stick_params = fitted.get("stick-built", {})
        if method == "fast-track":
            stick_params = {k: v for k, v in stick_params.items() if k in presets_mod.FAST_TRACK_INHERITS}
        stick = presets_mod.calibrate(presets_mod.STICK_BUILT_BASE, {**share, **stick_params})
        return presets_mod.calibrate(DERIVED[method](stick), params)
    if method == "powered-shell":
        return presets_mod.calibrate(presets_mod.POWERED_SHELL_BASE, {**share, **params})
    raise KeyError(f"no fit plan for {method!r}")


def candidate_overrides(method: str, params: dict[str, float], fitted: dict[str, dict[str, float]]) -> dict[str, MethodPreset]:
    """``method``'s candidate preset and, for stick-built, the presets derived from it (their own
    fitted values or priors), so an anchor planned with a derived preset sees the candidate."""
    out = {method: candidate_preset(method, params, fitted)}
    if method == "stick-built":
        upstream = {**fitted, "stick-built": params}
        for derived in DERIVED:
            own = fitted.get(derived) or {name: _prior(derived, name) for name, _, _ in presets_mod.FIT_PLAN.get(derived, ())}
            out[derived] = candidate_preset(derived, own, upstream)
    return out


def log_interval_error(value: float, lo: float, hi: float) -> float:
    """0 inside [lo, hi], else ln(value / nearer end): symmetric in over- and under-prediction
    (a 2x overrun and a 2x underrun weigh the same; the relative error of `interval_error`
    can exceed 100 % one way but not the other)."""
    value = max(value, 1e-3)  # a zero-length span: a large, finite error
    if value > hi:
        return math.log(value / hi)
    if value < lo:
        return math.log(value / lo)
    return 0.0


def fit_loss(errors: Sequence[AnchorError]) -> float:
    """Sum over campuses of the mean squared `log_interval_error` of their quantities: each
    campus is one observation of a build's pace, however many of its milestones are dated."""
    by: dict[str, list[float]] = {}
    for e in errors:
        by.setdefault(e.campus, []).append(log_interval_error(e.predicted_p50_days, *e.observed_days) ** 2)
    return float(sum(sum(v) / len(v) for v in by.values()))


#: losses within FIT_TIE + FIT_TIE_REL x the least loss are ties, resolved towards the prior:
#: 0.002 is a 4.5 % log error on one campus; Monte Carlo noise at FIT_SAMPLES moves a P50 by
#: ~1-2 %, which moves a large squared log error e^2 by up to ~4 %/e of itself
FIT_TIE = 0.002
FIT_TIE_REL = 0.05


def fit_presets(cat: Any, samples: int = FIT_SAMPLES, grids: dict[str, tuple[float, ...]] | None = None,
                log: Any = None) -> dict[str, dict[str, float]]:
    """Fit the `presets.FIT_PLAN` parameters on the FIT anchors only.  Per preset (stick-built
    first, as the conversion preset builds on it), one parameter at a time in plan order: every
    grid value is scored by `fit_loss` on the parameter's own anchors and quantities, the other
    parameters held at their priors or already fitted values.  Values within `FIT_TIE` (+
    `FIT_TIE_REL` x) of the least loss (a flat loss: the anchors do not pin the parameter, or
    Monte Carlo noise) go to the one nearest the
    prior (in log ratio), so an unidentified parameter keeps its prior.  Anchors outside the fit
    split are refused."""
    grids = grids or FIT_GRIDS
    split = {c["id"]: c["split"] for c in load_campuses()["campuses"]}
    fitted: dict[str, dict[str, float]] = {}
    for method, steps in presets_mod.FIT_PLAN.items():
        params = {name: _prior(method, name) for name, _, _ in steps}
        for name, campuses, quantities in steps:
            leaked = [c for c in campuses if split.get(c) != "fit"]
            if leaked:
                raise ValueError(f"fit plan of {method}/{name} names anchors outside the fit split: {leaked}")
            prior = _prior(method, name)
            scored = []
            for v in grids[name]:
                overrides = candidate_overrides(method, {**params, name: v}, fitted)
                errs = [e for e in anchor_errors(cat, split="fit", samples=samples, overrides=overrides, campuses=campuses)
                        if e.quantity in quantities]
                scored.append((fit_loss(errs), v))
                if log:
                    log(f"  {method:13s} {name:24s} {v:6g}: loss {scored[-1][0]:.4f}  "
                        + ", ".join(f"{e.campus}/{e.quantity} {e.predicted_p50_days:.0f} ({e.rel_error:+.0%})" for e in errs))
            best = min(x[0] for x in scored)
            loss, choice = min((x for x in scored if x[0] <= best * (1 + FIT_TIE_REL) + FIT_TIE), key=lambda x: (abs(math.log(max(x[1], 1e-3) / prior)), x[1]))
            params[name] = choice
            if log:
                log(f"{method}: {name} = {choice:g} (prior {prior:g}, loss {loss:.4f}, least {best:.4f})")
        fitted[method] = params
    return fitted


def method_table(cat: Any, params: dict[str, dict[str, float]] | None = None, samples: int | None = None) -> dict[str, dict[str, float]]:
    """The bundled default scenario under every preset (and candidate preset), with fit
    ``params`` (`presets.FITTED` when None; the priors, i.e. the presets before calibration, with
    ``params={}``): first token and full capacity P10 / P50 / P90 [days]."""
    from gigafactory.design.factory import design_factory
    from gigafactory.scenario import load_scenario

    scn0 = load_scenario(catalog=cat)
    design = design_factory(cat, scn0)
    n = scn0.rollout.monte_carlo_samples if samples is None else samples
    params = presets_mod.FITTED if params is None else params
    full = {m: {**{name: _prior(m, name) for name, _, _ in steps}, **params.get(m, {})} for m, steps in presets_mod.FIT_PLAN.items()}
    overrides = {m: candidate_preset(m, p, full) for m, p in full.items()}
    out = {}
    for method in (*PRESETS, *presets_mod.CANDIDATE_PRESETS):
        scn = scn0.model_copy(update={"rollout": scn0.rollout.model_copy(update={"method": method})})
        with preset_overrides(overrides):
            tasks = build_tasks(scn, design, cat)
        plan = schedule_fast(tasks)
        ms = milestone_samples(tasks, plan, n, stream(scn.seed, "rollout.risk"))
        out[method] = {f"{q}_p{p}": float(np.percentile(ms[q], p)) for q in ("first_token", "full_capacity") for p in (10, 50, 90)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import time

    from gigafactory.catalog import load_catalog

    ap = argparse.ArgumentParser(prog="python -m gigafactory.rollout.anchors", description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="re-run the fit on the FIT anchors and print what it chooses")
    ap.add_argument("--samples", type=int, default=200, help="Monte Carlo samples for the error table")
    ap.add_argument("--planned", action="store_true", help="also list planned (not realised) milestones as forecast checks")
    ap.add_argument("--methods", action="store_true", help="the default scenario under every preset, before and after calibration")
    args = ap.parse_args(argv)
    cat = load_catalog()
    if args.fit:
        t0 = time.perf_counter()
        fitted = fit_presets(cat, log=print)
        print(f"fitted ({time.perf_counter() - t0:.1f} s): {fitted}")
        print(f"in presets.FITTED:  {presets_mod.FITTED}")
    if args.methods:
        before, after = method_table(cat, params={}), method_table(cat)
        print("\ndefault scenario, first token / full capacity P50 [d], before -> after calibration")
        for m in after:
            print(f"  {m:13s} first token {before[m]['first_token_p50']:7.0f} -> {after[m]['first_token_p50']:7.0f}   "
                  f"full capacity {before[m]['full_capacity_p50']:7.0f} -> {after[m]['full_capacity_p50']:7.0f}   "
                  f"(after: P10-P90 {after[m]['first_token_p10']:.0f}-{after[m]['first_token_p90']:.0f}, "
                  f"{after[m]['full_capacity_p10']:.0f}-{after[m]['full_capacity_p90']:.0f})")
    for split in ("fit", "holdout"):
        errs = anchor_errors(cat, split=split, samples=args.samples, include_planned=args.planned)
        print(f"\n{split.upper()} anchors ({args.samples} samples)\n" + format_errors(errs))
        realised = [e for e in errs if e.status == "actual"]
        print(summary(realised))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
