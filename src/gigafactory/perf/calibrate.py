"""Calibration: fit the roofline's efficiency parameters per (hardware generation, engine)
on measured rows, and per software release multipliers on them (perf/releases.py).
``fit_efficiency`` returns the :class:`Efficiency` the model consumes.

Residuals are log(predicted / measured) tok/s/GPU, weighted by the row's trust (1: 1.0,
2: 0.8, 3: 0.5; trust-4 and AMBIGUOUS rows are not used), with a soft-L1 loss so a few
odd rows do not dominate.  Parameters stay inside physical bounds (efficiency.BOUNDS), and each
group's fit is shrunk towards one pooled fit over all groups (``PRIOR_LOG_SD``), so a group
whose rows leave a parameter loose (one GPU type, few rows) borrows it from the others.
The collective latency is not fitted (FITTED): each row runs at the latency measured for its
GPU and engine (perf/collectives.py).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import yaml
from scipy.optimize import least_squares

from gigafactory.catalog import Catalog
from gigafactory.perf.architecture import KERNELS_REFERENCE_LAYER
from gigafactory.perf.collectives import with_measured_latency
from gigafactory.perf.efficiency import BOUNDS, ENGINE, PRIOR, Efficiency, efficiency_for
from gigafactory.perf.hardware import hardware_from_catalog
from gigafactory.perf.releases import FACTOR_BOUNDS, FACTORS, ReleaseFactors, release_factors, release_key, software_release
from gigafactory.perf.validate import DEFAULT_LATENCY_RULE, RowPrediction, predict_row

TRUST_WEIGHT = {"1": 1.0, "2": 0.8, "3": 0.5}
MIN_ROWS = 12  # four fitted parameters: fewer rows would be fitted, not measured
#: a group with fewer rows fits only the two parameters an engine changes most at a fixed
#: hardware generation (achieved memory bandwidth and per-step host overhead), starting from
#: and keeping the rest of its generation's TensorRT-LLM fit; below this it is not fitted at all.
MIN_ROWS_PARTIAL = 5
PARTIAL_PARAMS = ("memory", "step_overhead_s")
#: residual used when a parameter set makes a row infeasible (no config meets its limits)
INFEASIBLE_RESIDUAL = 1.5
#: how the fit judges a server / interactive row's p99 limits (validate.LATENCY_RULES).  Not the
#: queueing model `validate` predicts with: MLPerf servers run below the rate their limits allow
#: (the submitters' chosen query rates, docs/accuracy.md seventh and seventeenth rounds), and at
#: the queue's sustainable rate that gap would be fitted into the step model's efficiencies.
#: The ratios' slot-queue headroom takes less of it there: fitted under the queueing model
#: instead, 5-fold CV 11.2 / 29.1 % against 10.8 / 26.8 %, leave one model out 12.5 / 34.3 %
#: against 10.8 / 33.5 % (eighteenth round)
FIT_LATENCY_RULE = "ratios"
PARAMS = ("compute", "memory", "collective_latency_s", "step_overhead_s", "expert")
#: what `calibrate` fits: the collective latency is measured (perf/collectives.py), not fitted
FITTED = tuple(p for p in PARAMS if p != "collective_latency_s")
#: Shrinkage of a group's fit towards a prior parameter set (the pooled fit over all groups,
#: see :func:`calibrate`): one extra residual per fitted parameter, log(value / prior) /
#: PRIOR_LOG_SD, so each parameter's prior weighs about as much as one trust-1 row.  That is
#: strong: a group moves a parameter away from the pooled value only as far as its rows clearly
#: support (one GPU type of a generation, an engine with few rows move little).  Width set a
#: priori (factor 2), not tuned on held-out rows; shrinking towards the uncalibrated PRIOR
#: instead was measured and rejected (docs/accuracy.md, issue 21).
PRIOR_LOG_SD = math.log(2.0)
#: floor for the step overhead in the prior term (its bound includes 0) [s]
_OVERHEAD_FLOOR_S = 1e-4
#: fixed cost per kernel of a whole step, measured on an H200 (docs/accuracy.md, "Fixed cost per
#: kernel of whole steps"): 2.80-3.17 us in decode steps replayed as CUDA graphs (2.95 for
#: Llama-3.1 8B in BF16), 7.0-10.7 us per eager launch (10.5: `eager_total_us_per_kernel` of
#: bench/results/h200_probe.json, 1,000 launches).  An engine's host-side scheduling puts its
#: step overhead between the two [s]
GRAPH_KERNEL_S, EAGER_KERNEL_S = 2.95e-6, 10.5e-6
#: the step overhead the pooled fit is shrunk towards (PRIOR_LOG_SD, on that parameter only):
#: the bracket's geometric middle, 5.6 us, for each of the reference step's kernels (80 Llama
#: layers).  One standard deviation either side spans the bracket.  Without it, a fit on dense
#: rows alone trades the overhead against compute and memory, and a model held out that
#: launches more kernels per step (DeepSeek-R1, 1.5x) swings with the trade [s]
OVERHEAD_PRIOR_S = math.sqrt(GRAPH_KERNEL_S * EAGER_KERNEL_S) * 80 * KERNELS_REFERENCE_LAYER


def _fit_prediction(r: dict[str, str], c: Catalog, eff: Efficiency) -> RowPrediction:
    """A row predicted as the fit sees it: under ``eff``, limited rows by FIT_LATENCY_RULE."""
    return predict_row(r, c, eff=eff, latency_rule=FIT_LATENCY_RULE)


def _to_x(e: Efficiency) -> np.ndarray:
    return np.array([e.compute, e.memory, math.log10(e.collective_latency_s), e.step_overhead_s * 1e3, e.expert])


def _from_x(x: np.ndarray) -> Efficiency:
    return Efficiency(compute=x[0], memory=x[1], collective_latency_s=10 ** x[2], step_overhead_s=x[3] / 1e3, expert=x[4])


def _bounds() -> tuple[np.ndarray, np.ndarray]:
    lo = [BOUNDS["compute"][0], BOUNDS["memory"][0], math.log10(BOUNDS["collective_latency_s"][0]), BOUNDS["step_overhead_s"][0] * 1e3, BOUNDS["expert"][0]]
    hi = [BOUNDS["compute"][1], BOUNDS["memory"][1], math.log10(BOUNDS["collective_latency_s"][1]), BOUNDS["step_overhead_s"][1] * 1e3, BOUNDS["expert"][1]]
    return np.array(lo), np.array(hi)


def usable_for_fit(row: dict[str, str]) -> bool:
    return row.get("trust") in TRUST_WEIGHT and not (row.get("notes") or "").startswith("AMBIGUOUS")


def group_key(row: dict[str, str], cat: Catalog) -> tuple[str, str] | None:
    try:
        hw = hardware_from_catalog(cat, row.get("hardware", ""))
    except Exception:  # noqa: BLE001 - unknown hardware: not fittable
        return None
    return hw.generation, _engine_of(row)


def _engine_of(row: dict[str, str]) -> str:
    return ENGINE.get(row.get("framework") or "trtllm", "trtllm")


@dataclass(frozen=True)
class FitReport:
    generation: str
    engine: str
    efficiency: Efficiency
    rows: list[str]
    median_ape: float
    p90_ape: float
    n_infeasible: int
    cost: float
    fitted: tuple[str, ...] = PARAMS  # parameters the fit moved; the others came from ``x0``
    prior: Efficiency | None = None  # the values the fit was shrunk towards (PRIOR_LOG_SD), if any


def prior_residuals(eff: Efficiency, free: tuple[str, ...], prior: Efficiency | None = None,
                    only: tuple[str, ...] | None = None) -> np.ndarray:
    """log(value / prior value) / PRIOR_LOG_SD for each parameter in ``free`` (those also in
    ``only``, when given; empty without a prior)."""
    if prior is None:
        return np.empty(0)
    out = []
    for k in free:
        if only is not None and k not in only:
            continue
        v, v0 = getattr(eff, k), getattr(prior, k)
        if k == "step_overhead_s":
            v, v0 = max(v, _OVERHEAD_FLOOR_S), max(v0, _OVERHEAD_FLOOR_S)
        out.append(math.log(v / v0) / PRIOR_LOG_SD)
    return np.array(out)


def fit_efficiency(
    rows: list[dict[str, str]], cat: Catalog, x0: Efficiency = PRIOR,
    predictor: Callable[[dict[str, str], Catalog, Efficiency], RowPrediction] | None = None,
    free: tuple[str, ...] = PARAMS, prior: Efficiency | None = None, prior_only: tuple[str, ...] | None = None,
) -> FitReport:
    """Fit one parameter set to ``rows`` (all of one generation and engine); only the
    parameters named in ``free`` move, the others stay at ``x0``.  With ``prior``, each free
    parameter (each one in ``prior_only``, when given) is shrunk towards its value there."""
    predictor = predictor or _fit_prediction
    weights = np.sqrt([TRUST_WEIGHT.get(r.get("trust", "3"), 0.5) for r in rows])
    idx = [PARAMS.index(p) for p in free]
    lo_all, hi_all = _bounds()
    base = np.clip(_to_x(x0), lo_all + 1e-9, hi_all - 1e-9)

    def full(xf: np.ndarray) -> np.ndarray:
        x = base.copy()
        x[idx] = xf
        return x

    def residuals(xf: np.ndarray) -> np.ndarray:
        eff = _from_x(full(xf))
        out = np.empty(len(rows))
        for i, r in enumerate(rows):
            p = predictor(r, cat, eff)
            out[i] = math.log(p.predicted_tok_s_gpu / p.measured_tok_s_gpu) if p.status == "ok" else INFEASIBLE_RESIDUAL
        return np.concatenate([out * weights, prior_residuals(eff, free, prior, prior_only)])

    res = least_squares(residuals, base[idx], bounds=(lo_all[idx], hi_all[idx]), loss="soft_l1", f_scale=0.3, diff_step=0.05, max_nfev=60)
    eff = _from_x(full(res.x))
    preds = [predictor(r, cat, eff) for r in rows]
    apes = np.array([p.ape for p in preds if p.status == "ok"])
    gen, eng = group_key(rows[0], cat) or ("?", "?")
    return FitReport(
        generation=gen, engine=eng, efficiency=eff, rows=[r["id"] for r in rows],
        median_ape=float(np.median(apes)) if apes.size else float("nan"),
        p90_ape=float(np.percentile(apes, 90)) if apes.size else float("nan"),
        n_infeasible=sum(p.status != "ok" for p in preds), cost=float(res.cost), fitted=tuple(free), prior=prior,
    )


def _usable_groups(rows: list[dict[str, str]], cat: Catalog) -> dict[tuple[str, str], list[dict[str, str]]]:
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in rows:
        if not usable_for_fit(r):
            continue
        key = group_key(r, cat)
        if key is None:
            continue
        # keep only rows the model can predict at all
        if _fit_prediction(r, cat, PRIOR).status != "ok":
            continue
        groups.setdefault(key, []).append(r)
    return groups


def _fit_groups(groups: dict[tuple[str, str], list[dict[str, str]]], cat: Catalog, progress: Callable[[str], None] | None,
                predictor: Callable[[dict[str, str], Catalog, Efficiency], RowPrediction] | None = None) -> list[FitReport]:
    reports = []
    inner = predictor or _fit_prediction
    # Every row runs at the collective latency measured for its own GPU and engine: the fits
    # move the other parameters only (FITTED).
    where = {r["id"]: (*key, hardware_from_catalog(cat, r["hardware"]).accelerator_id) for key, rows_ in groups.items() for r in rows_}

    def measured(r: dict[str, str], c: Catalog, e: Efficiency) -> RowPrediction:
        at = where.get(r["id"])
        return inner(r, c, with_measured_latency(e, *at) if at else e)

    # One pooled fit over every usable row (all generations and engines) is the prior each
    # group's fit is shrunk towards: kernels, runtimes and their overheads are shared across
    # generations, so a group whose rows leave a parameter loose borrows it from the others.
    # Its own step overhead is shrunk towards the measured per-kernel cost (OVERHEAD_PRIOR_S).
    pooled_rows = [r for rows_ in groups.values() for r in rows_]
    pooled = fit_efficiency(pooled_rows, cat, predictor=measured, free=FITTED, prior=replace(PRIOR, step_overhead_s=OVERHEAD_PRIOR_S),
                            prior_only=("step_overhead_s",)).efficiency if pooled_rows else PRIOR
    # full fits first: a small group starts from its generation's full TensorRT-LLM fit
    for key in sorted(groups, key=lambda k: (len(groups[k]) < MIN_ROWS, k)):
        n = len(groups[key])
        if n >= MIN_ROWS:
            if progress:
                progress(f"fitting {key[0]} / {key[1]} on {n} rows")
            reports.append(_at_measured_latency(fit_efficiency(groups[key], cat, x0=pooled, prior=pooled, predictor=measured, free=FITTED), key))
            continue
        base = next((r.efficiency for r in reports if (r.generation, r.engine) == (key[0], "trtllm")), None)
        if n < MIN_ROWS_PARTIAL or base is None:
            if progress:
                progress(f"skip {key}: {n} rows < {MIN_ROWS_PARTIAL if base is not None else MIN_ROWS}")
            continue
        if progress:
            progress(f"fitting {', '.join(PARTIAL_PARAMS)} of {key[0]} / {key[1]} on {n} rows (rest from {key[0]} / trtllm)")
        reports.append(_at_measured_latency(fit_efficiency(groups[key], cat, x0=base, free=PARTIAL_PARAMS, prior=base, predictor=measured), key))
    return reports


def _at_measured_latency(report: FitReport, key: tuple[str, str]) -> FitReport:
    """The report with its generation's measured latency in its efficiency (each row ran at its own
    GPU's, which ``efficiency_for`` applies again when predicting)."""
    return dataclasses.replace(report, efficiency=with_measured_latency(report.efficiency, *key))


@dataclass(frozen=True)
class ReleaseReport:
    """The fitted factors of one software release of one engine (perf/releases.py)."""
    release: str
    engine: str
    efficiency: ReleaseFactors  # named like FitReport's, so {(generation, engine): efficiency} tables take both
    rows: list[str]
    median_ape: float
    p90_ape: float
    n_infeasible: int

    @property
    def generation(self) -> str:  # the table key's first part
        return release_key(self.release, self.engine)[0]


def fit_release(rows: list[dict[str, str]], cat: Catalog, table: dict, release: str, engine: str) -> ReleaseReport:
    """Fit one release's multipliers (releases.FACTORS) on its rows, each row predicted with its
    own (generation, engine) efficiencies from ``table`` times the multipliers; each multiplier
    is shrunk towards 1 with PRIOR_LOG_SD, like the groups' parameters towards the pooled fit."""
    weights = np.sqrt([TRUST_WEIGHT.get(r.get("trust", "3"), 0.5) for r in rows])
    bases = [efficiency_for((group_key(r, cat) or ("?", "?"))[0], r.get("framework") or "trtllm", table,
                            accelerator=hardware_from_catalog(cat, r["hardware"]).accelerator_id) for r in rows]
    lo, hi = (math.log(b) for b in FACTOR_BOUNDS)
    models = [cat.resolve_id("models", r.get("model", "")) for r in rows]
    # the expert factor describes the MoE back end these models ran in this release
    moe = tuple(sorted({mid for mid in models if mid and cat.model(mid).num_experts}))

    def predictions(x: np.ndarray) -> list[RowPrediction]:
        f = ReleaseFactors(*np.exp(x), moe_models=moe)
        return [_fit_prediction(r, cat, f.apply(b, mid)) for r, b, mid in zip(rows, bases, models)]

    def residuals(x: np.ndarray) -> np.ndarray:
        out = np.array([math.log(p.predicted_tok_s_gpu / p.measured_tok_s_gpu) if p.status == "ok" else INFEASIBLE_RESIDUAL for p in predictions(x)])
        return np.concatenate([out * weights, x / PRIOR_LOG_SD])

    res = least_squares(residuals, np.zeros(len(FACTORS)), bounds=(lo, hi), loss="soft_l1", f_scale=0.3, diff_step=0.05, max_nfev=40)
    preds = predictions(res.x)
    apes = np.array([p.ape for p in preds if p.status == "ok"])
    return ReleaseReport(
        release=release, engine=engine, efficiency=ReleaseFactors(*(float(f"{v:.6g}") for v in np.exp(res.x)), moe_models=moe),
        rows=[r["id"] for r in rows],
        median_ape=float(np.median(apes)) if apes.size else float("nan"), p90_ape=float(np.percentile(apes, 90)) if apes.size else float("nan"),
        n_infeasible=sum(p.status != "ok" for p in preds),
    )


def calibrate(rows: list[dict[str, str]], cat: Catalog, source: str, progress: Callable[[str], None] | None = None) -> list[FitReport | ReleaseReport]:
    """Fit every (generation, engine) group with at least MIN_ROWS usable rows, each shrunk
    towards one pooled fit over all usable rows (smaller groups: towards their generation's
    TensorRT-LLM fit).  With software releases (releases.software_release) of at least
    MIN_ROWS_PARTIAL rows: the groups first on the rows that name no release (the base curve),
    then each release's multipliers against it, then the groups again on all rows, each row
    predicted under its release's factors, so a release's offset does not bend the base curve."""
    groups = _usable_groups(rows, cat)
    by_release: dict[tuple[str, str], list[dict[str, str]]] = {}
    for rows_ in groups.values():
        for r in rows_:
            rel = software_release(r)
            if rel is not None:
                by_release.setdefault((rel, _engine_of(r)), []).append(r)
    by_release = {k: v for k, v in by_release.items() if len(v) >= MIN_ROWS_PARTIAL}
    if not by_release:
        return list(_fit_groups(groups, cat, progress))
    # The base curve is what the engine's public releases do: fitted first on the rows that
    # name no release, so the releases' offsets are measured against it, not absorbed into it.
    in_release = {id(r) for v in by_release.values() for r in v}
    public = {k: [r for r in v if id(r) not in in_release] for k, v in groups.items()}
    base_reports = _fit_groups({k: v for k, v in public.items() if v}, cat, progress)
    if not base_reports:
        return list(_fit_groups(groups, cat, progress))
    table = {(r.generation, r.engine): r.efficiency for r in base_reports}
    releases: list[ReleaseReport] = []
    for (rel, eng) in sorted(by_release):
        if progress:
            progress(f"fitting release {rel} of {eng} on {len(by_release[(rel, eng)])} rows")
        releases.append(fit_release(by_release[(rel, eng)], cat, table, rel, eng))
    factors = {release_key(r.release, r.engine): r.efficiency for r in releases}

    def under_release(r: dict[str, str], c: Catalog, e: Efficiency) -> RowPrediction:
        f = release_factors(factors, _engine_of(r), software_release(r))
        return _fit_prediction(r, c, f.apply(e, c.resolve_id("models", r.get("model", ""))) if f is not None else e)

    if progress:
        progress("refitting the groups with each row under its release")
    return [*_fit_groups(groups, cat, None, predictor=under_release), *releases]


def write_efficiency_file(reports: list[FitReport | ReleaseReport], path: Path, source: str) -> None:
    """Write the fitted parameters with provenance (rows used, date, fit error)."""
    releases = [r for r in reports if isinstance(r, ReleaseReport)]
    reports = [r for r in reports if isinstance(r, FitReport)]
    body = {
        "description": "Roofline efficiency parameters fitted by `gigafactory calibrate` (see perf/calibrate.py).",
        "fitted_on": dt.date.today().isoformat(),
        "measured_source": source,
        "bounds": {k: list(v) for k, v in BOUNDS.items()},
        "pooled_fit_shrunk_towards": {"step_overhead_s": float(f"{OVERHEAD_PRIOR_S:.6g}"), "log_sd": float(f"{PRIOR_LOG_SD:.6g}")},
        "parameters": [
            {
                "generation": r.generation,
                "engine": r.engine,
                **{k: float(f"{getattr(r.efficiency, k):.6g}") for k in PARAMS},
                "n_rows": len(r.rows),
                "fitted_parameters": list(r.fitted),
                "in_sample_median_ape": round(r.median_ape, 4),
                "in_sample_p90_ape": round(r.p90_ape, 4),
                "n_infeasible_after_fit": r.n_infeasible,
                **({"shrunk_towards": {k: float(f"{getattr(r.prior, k):.6g}") for k in r.fitted}} if r.prior is not None else {}),
                "rows": r.rows,
            }
            for r in reports
        ],
    }
    if releases:
        body["releases"] = [
            {
                "release": r.release,
                "engine": r.engine,
                **r.efficiency.as_dict(),
                **({"moe_models": list(r.efficiency.moe_models)} if r.efficiency.moe_models else {}),
                "n_rows": len(r.rows),
                "in_sample_median_ape": round(r.median_ape, 4),
                "in_sample_p90_ape": round(r.p90_ape, 4),
                "n_infeasible_after_fit": r.n_infeasible,
                "shrunk_towards": {k: 1.0 for k in FACTORS},
                "rows": r.rows,
            }
            for r in releases
        ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(body, sort_keys=False, width=120), encoding="utf-8")
    tmp.replace(path)  # never leave a half-written file


def report_rows(reports: list[FitReport | ReleaseReport]) -> list[dict[str, Any]]:
    """The (generation, engine) fits, one dict each (release factors: :func:`release_rows`)."""
    return [
        {"generation": r.generation, "engine": r.engine, "n_rows": len(r.rows), **r.efficiency.as_dict(),
         "median_ape": r.median_ape, "p90_ape": r.p90_ape, "n_infeasible": r.n_infeasible}
        for r in reports if isinstance(r, FitReport)
    ]


def release_rows(reports: list[FitReport | ReleaseReport]) -> list[dict[str, Any]]:
    return [
        {"release": r.release, "engine": r.engine, "n_rows": len(r.rows), **r.efficiency.as_dict(),
         "median_ape": r.median_ape, "p90_ape": r.p90_ape, "n_infeasible": r.n_infeasible}
        for r in reports if isinstance(r, ReleaseReport)
    ]


def cross_validation_folds(rows: list[dict[str, str]], cat: Catalog, folds: int = 5, seed: int = 0) -> Iterator[tuple[list[dict[str, str]], dict]]:
    """k-fold cross-validation's folds: for each, its rows and the efficiency table fitted without
    them (rows shuffled with ``seed``, then dealt round-robin into ``folds`` groups)."""
    import random

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    fold = {rows[i]["id"]: k % folds for k, i in enumerate(order)}
    for f in range(folds):
        table = {(r.generation, r.engine): r.efficiency for r in calibrate([r for r in rows if fold[r["id"]] != f], cat, "cv")}
        yield [r for r in rows if fold[r["id"]] == f], table


def cross_validated_predictions(rows: list[dict[str, str]], cat: Catalog, folds: int = 5, seed: int = 0,
                                latency_rule: str = DEFAULT_LATENCY_RULE) -> dict[str, RowPrediction]:
    """k-fold cross-validation: each row predicted by parameters fitted without its fold
    (:func:`cross_validation_folds`), server and interactive rows under ``latency_rule``
    (validate.LATENCY_RULES; the fits use FIT_LATENCY_RULE)."""
    return {r["id"]: predict_row(r, cat, table, latency_rule=latency_rule)
            for held, table in cross_validation_folds(rows, cat, folds, seed) for r in held}
