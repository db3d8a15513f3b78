"""Tenants' demand for the consolidation study: real per-client series from ServeGen.

The bundled table ``data/servegen_clients.json.gz`` (derived by ``bench/bench_consolidate.py
--build-data`` from Alibaba ServeGen, Apache-2.0; ``data/SOURCE.md``) holds, per anonymised API
client of one ServeGen model, the request rate and the inter-arrival coefficient of variation
(CV) of every 10-minute window, the mean input and output lengths of every length window (6 h),
and one quantile sketch of each length with mean 1.

A :class:`Tenant` is one client's series over the record, its rates multiplied by a common
scale, its mean lengths the workload's ``isl_tokens`` / ``osl_tokens`` (with the client's own
length distribution around them; :func:`servegen_tenants`).
"""
from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gigafactory.errors import InputError, Problem

DATA = Path(__file__).resolve().parent / "data" / "servegen_clients.json.gz"
#: ServeGen subsets bundled, by the short name the command takes.
DATASETS = {"m-small": "language/m-small", "deepseek-r1": "reason/deepseek-r1"}
#: catalog model ids whose demand is ServeGen's reasoning set; every other model takes the language set.
REASONING_MODELS = ("deepseek-r1",)


@functools.lru_cache(maxsize=1)
def load_table() -> dict:
    """The bundled client table (parsed once)."""
    with gzip.open(DATA, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def dataset_for(model_id: str) -> str:
    """The ServeGen subset whose clients stand for ``model_id``'s tenants."""
    return "deepseek-r1" if any(r in model_id for r in REASONING_MODELS) else "m-small"


def check_dataset(name: str) -> str:
    if name not in DATASETS:
        raise InputError([Problem(f"unknown ServeGen dataset '{name}'", field="--dataset", value=name,
                                  expected="one of: " + ", ".join(DATASETS), fix="leave it out to take the model's")])
    return name


@dataclass(frozen=True, eq=False)
class Tenant:
    """One tenant's demand, window by window: request rate [req/s], inter-arrival CV (ServeGen's
    fitted Gamma/Weibull CV; 1 = Poisson), mean input and output tokens; length shapes are
    quantile functions on ``u_grid`` with mean 1 (a request's length = shape(u) x the window's mean)."""

    name: str
    rate_rps: np.ndarray
    cv: np.ndarray
    mean_input: np.ndarray
    mean_output: np.ndarray
    input_shape: np.ndarray
    output_shape: np.ndarray
    u_grid: np.ndarray
    window_s: float = 600.0
    client_id: int | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = np.asarray(self.rate_rps).size
        for key in ("rate_rps", "cv", "mean_input", "mean_output"):
            arr = np.asarray(getattr(self, key), dtype=float).reshape(-1)
            if arr.size != n:
                raise ValueError(f"tenant {self.name}: {key} has {arr.size} windows, rate_rps {n}")
            object.__setattr__(self, key, arr)
        for key in ("input_shape", "output_shape", "u_grid"):
            object.__setattr__(self, key, np.asarray(getattr(self, key), dtype=float))

    @property
    def windows(self) -> int:
        return int(self.rate_rps.size)

    def requests(self) -> float:
        return float(self.rate_rps.sum() * self.window_s)


def peak_to_mean(rate: np.ndarray) -> float:
    m = float(np.mean(rate))
    return float(np.max(rate)) / m if m > 0 else 0.0


def servegen_tenants(dataset: str, k: int, isl: float, osl: float) -> tuple[list[Tenant], dict]:
    """The ``k`` busiest clients of ``dataset`` (by requests over the record), rates as recorded.

    Lengths: every tenant's mean input and output are the workload's ``isl`` / ``osl`` in every
    window; around them, its length shapes (quantile sketches of its within-window
    distributions) are ServeGen's.  ServeGen's m-small means are 86 / 13 tokens: one common
    factor per direction (keeping the differences between tenants and over time) would stretch
    one client's 600-token prompts to 14,000 tokens and another's 6-hour block of 205-token
    answers to 5,700, out of reach of the SLO at any size (docs/consolidation.md, weak points).

    Returns the tenants and facts about the data (record length, recorded means per tenant)."""
    check_dataset(dataset)
    table = load_table()
    sub = table["sets"][DATASETS[dataset]]
    clients = sub["clients"]
    if not 2 <= k <= len(clients):
        raise InputError([Problem(f"the study needs between 2 and {len(clients)} tenants ({dataset} has {len(clients)} clients)",
                                  field="--tenants", value=k, expected=f"a whole number from 2 to {len(clients)}",
                                  fix="e.g. --tenants 10")])
    chosen = clients[:k]  # the table is sorted by requests over the record, busiest first
    window_s = float(sub["window_s"])
    per_len = round(float(sub["length_window_s"]) / window_s)
    u = np.asarray(table["u_grid"], dtype=float)
    tenants = []
    recorded = {}
    req_all = in_all = out_all = 0.0
    for c in chosen:
        rate = np.asarray(c["rate_rps"], dtype=float)
        idx = np.minimum(np.arange(rate.size) // per_len, len(c["mean_input"]) - 1)
        mi = np.asarray(c["mean_input"], dtype=float)[idx]
        mo = np.asarray(c["mean_output"], dtype=float)[idx]
        req = float(rate.sum())
        own_in = float(np.sum(rate * mi) / req) if req > 0 else float(np.mean(mi))
        own_out = float(np.sum(rate * mo) / req) if req > 0 else float(np.mean(mo))
        req_all += req
        in_all += req * own_in
        out_all += req * own_out
        recorded[f"client-{c['id']}"] = (own_in, own_out)
        cv = np.asarray(c["cv"], dtype=float)
        tenants.append(Tenant(
            name=f"client-{c['id']}", client_id=int(c["id"]), rate_rps=rate, cv=np.where(cv > 0, cv, 1.0),
            mean_input=np.full(rate.size, float(isl)), mean_output=np.full(rate.size, float(osl)), input_shape=np.asarray(c["input_shape"]),
            output_shape=np.asarray(c["output_shape"]), u_grid=u, window_s=window_s,
            meta={"recorded_mean_input_tokens": own_in, "recorded_mean_output_tokens": own_out}))
    facts = {"dataset": DATASETS[dataset], "clients_available": len(clients), "window_s": window_s,
             "windows": int(tenants[0].windows), "record_days": tenants[0].windows * window_s / 86400.0,
             "recorded_mean_input_tokens": in_all / req_all, "recorded_mean_output_tokens": out_all / req_all,
             "source": table["source"]}
    return tenants, facts


def scaled(t: Tenant, factor: float) -> Tenant:
    """``t`` with every window's rate multiplied by ``factor`` (burstiness and lengths kept)."""
    return Tenant(name=t.name, rate_rps=t.rate_rps * factor, cv=t.cv, mean_input=t.mean_input, mean_output=t.mean_output,
                  input_shape=t.input_shape, output_shape=t.output_shape, u_grid=t.u_grid, window_s=t.window_s,
                  client_id=t.client_id, meta=t.meta)


def dispersion_cv(tenants: list[Tenant]) -> np.ndarray:
    """Per window, the CV of the superposition of independent renewal streams in the sense of the
    index of dispersion of counts: sqrt(sum rate_i cv_i^2 / sum rate_i) (Cox & Lewis 1966)."""
    r = np.sum([t.rate_rps for t in tenants], axis=0)
    v = np.sum([t.rate_rps * t.cv**2 for t in tenants], axis=0)
    return np.sqrt(np.divide(v, r, out=np.ones_like(r), where=r > 0))
