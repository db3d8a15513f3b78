#!/usr/bin/env python3
"""Derive the hourly demand shapes of ``gigafactory.demand`` from the shared request traces.

Writes ``src/gigafactory/demand/data/profiles.yaml``: 168-hour (hour-of-week) relative-rate
profiles normalised to mean 1, each with its source files, method and summary statistics, plus
the intra-hour burstiness of the Azure 2023 traces.  The package reads only that YAML; it never
needs the traces at run time.

Usage (from the repository root)::

    python bench/demand_profiles.py                       # recompute and write the YAML
    python bench/demand_profiles.py --check               # recompute, compare, exit 1 on drift
    python bench/demand_profiles.py --traces /path/to/shared/data/traces

Sources (third-party data; attribution as in each SOURCE.md)
------------------------------------------------------------
* ServeGen (Alibaba Cloud Model Studio / Bailian), Apache-2.0, Xiang et al., NSDI 2026,
  arXiv 2505.09999, snapshot f891d118 (2025-06-09): per-client request rate per 10-minute
  window (``chunk-<id>-trace.csv``) and per-client length distributions per 6-hour window
  (``chunk-<id>-dataset.json``).  ``language/m-small``: 38 clients x 14 days;
  ``reason/deepseek-r1``: 73 clients x 1 day; ``multimodal/mm-image``: 35 clients x 1 day.
* Azure LLM inference trace 2023 (Splitwise, ISCA'24), CC-BY 4.0: per-request timestamps of
  ~1 hour each for code and conversation - used only for intra-hour burstiness.

Method (the same for every ServeGen subset)
-------------------------------------------
1. Aggregate rate per 10-minute window = sum over clients of ``rate_rps``.  Token rate = sum over
   clients of ``rate_rps`` x that client's mean tokens per request (sum of every ``*_tokens``
   field's mean: input + output for language and reasoning; text + image + audio + video +
   output for multimodal) in the 6-hour dataset window containing the 10-minute window (the
   client's request-weighted mean over all its windows where a 6-hour window is missing).
2. Gap repair: windows where the aggregate request rate falls below ``GAP_FRACTION`` x its median
   are treated as collection gaps (the aggregate of tens of clients does not drop to ~0 for
   10-20 minutes and come back) and linearly interpolated, for requests and tokens alike.
3. Trend (14-day subset only): log(daily mean) = a + b x day + day-of-week effect, by least
   squares; every window is divided by exp(b x (t - t_mid)), so the profile keeps the weekly
   and daily shape but not the client-mix growth of the two weeks (b is reported).
4. Hourly means (6 windows each) are averaged per hour of week over the two weeks (14-day
   subset) or tiled over 7 days (1-day subsets: no weekly information), then scaled to mean 1.
5. Calendar: ServeGen publishes no dates or time zone.  Trace day 0 is mapped to Monday
   (``DAY0_WEEKDAY``; a convention, not a fact - see ``weekday_alignment`` in the YAML).  The
   hour of day is the trace's own clock (its minimum near 04:00 and peaks near 10:00 and
   21:00 fit China Standard Time for the language subset; an assumption).

Statistics (``stats``) from the 168 values: ``peak_to_mean``, ``trough_to_mean``,
``weekday_to_weekend`` (mean of the first 120 hours / mean of the last 48), ``day_of_week_max_to_min``
(alignment-free).  From the 10-minute source series after gap repair and detrending:
``cv_10min`` (std / mean over the whole span), ``cv_10min_within_hour`` (std of each window /
its hour's mean: what an hourly model smooths away) and ``p99_10min_to_mean``.
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from gigafactory.demand.profiles import HOURS_PER_WEEK, profile_stats

DEFAULT_TRACES = REPO.parent / "shared" / "data" / "traces"
OUT = REPO / "src" / "gigafactory" / "demand" / "data" / "profiles.yaml"
WINDOW_S = 600
GAP_FRACTION = 0.2
DAY0_WEEKDAY = 0  # trace day 0 -> Monday (convention)
SERVEGEN_URL = "https://github.com/alibaba/ServeGen/tree/f891d1189eb32b3868dfc443800c4150548c282a/data"
SERVEGEN_PAPER = "https://arxiv.org/abs/2505.09999"
AZURE_URL = "https://github.com/Azure/AzurePublicDataset/blob/b469a113cedca53ddc3bdea71a143dc4b7d8700c/AzureLLMInferenceDataset2023.md"

SUBSETS = {
    # profile stem: (folder under servegen/, what it is)
    "servegen-language": ("language/m-small", "Bailian language-model API, m-small model group, 38 of 43 clients, 14 days"),
    "servegen-reasoning": ("reason/deepseek-r1", "Bailian DeepSeek-R1 API, 73 clients, 1 day"),
    "servegen-multimodal": ("multimodal/mm-image", "Bailian Qwen-VL image API, 35 clients, 1 day"),
}
ALIASES = {
    "servegen-language": "servegen-language-tokens",
    "servegen-reasoning": "servegen-reasoning-tokens",
    "servegen-multimodal": "servegen-multimodal-tokens",
    "chat": "servegen-language-tokens",
    "api": "servegen-language-tokens",
    "reasoning": "servegen-reasoning-tokens",
    "multimodal": "servegen-multimodal-tokens",
    "contract": "flat",
}


# ------------------------------------------------------------------------------------------
# ServeGen


def _mean_tokens(fields: dict[str, str]) -> float:
    """Mean tokens per request of one 6-hour dataset window: sum of the means of ``*_tokens``.

    NaN when a window's length distribution is empty (the client sent nothing in it)."""
    total = 0.0
    for name, text in fields.items():
        if not name.endswith("_tokens"):
            continue
        pdf = ast.literal_eval(text)  # python-dict literal {value: probability}; never eval()
        keys = np.fromiter(pdf.keys(), float)
        probs = np.fromiter(pdf.values(), float)
        if probs.sum() <= 0:
            return float("nan")
        total += float(np.dot(keys, probs) / probs.sum())
    return total


def read_servegen(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Aggregate request rate [1/s] and token rate [tokens/s] per 10-minute window, the files read,
    and the per-client request rates (clients x windows) [1/s]."""
    traces = sorted(folder.glob("chunk-*-trace.csv"), key=lambda p: int(p.name.split("-")[1]))
    if not traces:
        raise SystemExit(f"no chunk-*-trace.csv under {folder}")
    req = tok = None
    per_client = []
    for trace in traces:
        data = np.genfromtxt(trace, delimiter=",", usecols=(0, 1))
        start_s, rate = data[:, 0], data[:, 1]
        dataset = json.loads(trace.with_name(trace.name.replace("-trace.csv", "-dataset.json")).read_text())
        win_start = np.array(sorted(int(k) for k in dataset))
        win_mean = np.array([_mean_tokens(dataset[str(k)]) for k in win_start])
        known = np.isfinite(win_mean)
        # request-weighted mean over the client's windows, for 10-minute windows without a 6-h record
        idx_all = np.searchsorted(win_start, start_s, side="right") - 1
        weights = np.bincount(np.clip(idx_all, 0, None), weights=rate, minlength=len(win_start))
        if known.any():
            w = weights[known]
            fallback = float(np.dot(w, win_mean[known]) / w.sum()) if w.sum() > 0 else float(win_mean[known].mean())
        else:
            fallback = 0.0
        win_mean = np.where(known, win_mean, fallback)
        per_req = np.where(idx_all >= 0, win_mean[np.clip(idx_all, 0, None)], fallback)
        per_client.append(rate)
        req = rate if req is None else req + rate
        tok = rate * per_req if tok is None else tok + rate * per_req
    return req, tok, [p.name for p in traces], np.array(per_client)


def repair_gaps(req: np.ndarray, *series: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mask windows below GAP_FRACTION x median of ``req``; interpolate every series over them."""
    gap = req < GAP_FRACTION * np.median(req)
    idx = np.arange(len(req))
    out = []
    for s in (req, *series):
        fixed = s.copy()
        if gap.any():
            fixed[gap] = np.interp(idx[gap], idx[~gap], s[~gap])
        out.append(fixed)
    return gap, out


def detrend(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Divide out a log-linear trend fitted jointly with a day-of-week effect on daily means."""
    per_day = 86400 // WINDOW_S
    days = len(x) // per_day
    daily = x[: days * per_day].reshape(days, per_day).mean(axis=1)
    d = np.arange(days)
    design = np.column_stack([d] + [(d % 7 == k).astype(float) for k in range(7)])
    coef, *_ = np.linalg.lstsq(design, np.log(daily), rcond=None)
    b = float(coef[0])
    t_day = (np.arange(len(x)) + 0.5) * WINDOW_S / 86400.0
    return x / np.exp(b * (t_day - t_day.mean())), float(np.exp(b) - 1.0)


def week_profile(x10: np.ndarray) -> np.ndarray:
    """168 hour-of-week means (mean 1) from a 10-minute series of whole days."""
    hourly = x10.reshape(-1, 6).mean(axis=1)
    days = len(hourly) // 24
    if days == 1:
        prof = np.tile(hourly, 7)
    else:
        prof = np.zeros(HOURS_PER_WEEK)
        count = np.zeros(HOURS_PER_WEEK)
        for h, v in enumerate(hourly):
            how = (((h // 24) + DAY0_WEEKDAY) % 7) * 24 + h % 24
            prof[how] += v
            count[how] += 1
        if (count == 0).any():
            raise SystemExit("trace does not cover every hour of the week")
        prof /= count
    return prof / prof.mean()


def ten_minute_stats(x10: np.ndarray) -> dict[str, float]:
    hourly = x10.reshape(-1, 6).mean(axis=1)
    within = x10 / np.repeat(hourly, 6)
    return {
        "cv_10min": float(x10.std() / x10.mean()),
        "cv_10min_within_hour": float(within.std()),
        "p99_10min_to_mean": float(np.percentile(x10, 99) / x10.mean()),
    }


def quietest_day_pair(x10: np.ndarray) -> tuple[int, int]:
    """The two consecutive trace days (mod 7) with the lowest mean of a detrended 10-minute series."""
    per_day = 86400 // WINDOW_S
    daily = x10.reshape(-1, per_day).mean(axis=1)
    dow = np.array([daily[k::7].mean() for k in range(7)])
    k = int(np.argmin(dow + np.roll(dow, -1)))
    return k, (k + 1) % 7


def weekday_evidence(per_client: np.ndarray, gap: np.ndarray) -> str:
    """Where the 'weekend' falls by two readings of the same 14 days: aggregate and per-client average."""
    idx = np.arange(per_client.shape[1])
    agg = per_client.sum(axis=0)
    active = per_client.mean(axis=1) > 0
    norm = (per_client[active] / per_client[active].mean(axis=1, keepdims=True)).mean(axis=0)
    pairs = []
    for series in (agg, norm):
        fixed = series.copy()
        fixed[gap] = np.interp(idx[gap], idx[~gap], series[~gap])
        pairs.append(quietest_day_pair(detrend(fixed)[0]))
    (a1, a2), (c1, c2) = pairs
    agree = "agree" if pairs[0] == pairs[1] else "disagree"
    return (
        "ServeGen publishes no calendar dates; trace day 0 is mapped to Monday by convention (DAY0_WEEKDAY). "
        f"The quietest two consecutive trace days (mod 7) are days {a1}-{a2} for the aggregate rate and days {c1}-{c2} for the "
        f"average of per-client normalised rates: the two readings {agree}, so the weekday alignment is not identifiable from "
        "the data. Treat weekday_to_weekend as the size of the weekly modulation under the convention, not as a measured weekend dip."
    )


def _rounded(prof: np.ndarray) -> np.ndarray:
    """4-decimal values whose mean is 1 to within the rounding step."""
    vals = np.round(prof, 4)
    vals[np.argmax(vals)] += round(HOURS_PER_WEEK - vals.sum(), 4)  # put the rounding residue on the peak
    return np.round(vals, 4)


def servegen_profiles(traces: Path) -> tuple[dict, str]:
    out = {}
    evidence = ""
    for stem, (sub, what) in SUBSETS.items():
        folder = traces / "servegen" / sub
        req, tok, files, per_client = read_servegen(folder)
        gap, (req, tok) = repair_gaps(req, tok)
        days = len(req) * WINDOW_S / 86400
        if days >= 14:
            evidence = weekday_evidence(per_client, gap)
        for kind, series, unit in (("requests", req, "requests/s"), ("tokens", tok, "tokens/s")):
            growth = None
            if days >= 14:
                series, growth = detrend(series)
            prof = _rounded(week_profile(series))
            stats = profile_stats(prof)
            stats.update(ten_minute_stats(series))
            if growth is not None:
                stats["trace_trend_per_day"] = growth
            out[f"{stem}-{kind}"] = {
                "description": f"{what}; aggregate {kind} rate",
                "rate_unit": unit,
                "mean_rate": round(float(series.mean()), 3),
                "source": [SERVEGEN_URL, SERVEGEN_PAPER],
                "source_files": [f"shared/data/traces/servegen/{sub}/{f}" for f in (files[0], "...", files[-1])] + [f"{len(files)} clients (+ matching -dataset.json)"],
                "date": "2025-06-09",
                "confidence": "derived",
                "span_days": round(days, 3),
                "gap_windows_interpolated": int(gap.sum()),
                "weekly_shape": "measured (2 weeks, detrended)" if days >= 14 else "none: 1 day tiled over 7 days",
                "stats": {k: round(v, 4) for k, v in stats.items()},
                "values": [float(v) for v in prof],
            }
    return out, evidence


# ------------------------------------------------------------------------------------------
# Azure 2023: intra-hour burstiness only


def azure_burstiness(traces: Path) -> dict:
    out = {}
    for name, file in (("azure-2023-conversation", "AzureLLMInferenceTrace_conv.csv"), ("azure-2023-code", "AzureLLMInferenceTrace_code.csv")):
        path = traces / "azure_llm_2023" / file
        rows = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=None, encoding="utf-8", usecols=(0, 1, 2))
        t = np.array([dt.datetime.fromisoformat(r[0][:26]).timestamp() for r in rows])
        tokens = np.array([r[1] + r[2] for r in rows], float)
        t -= t.min()
        minute = (t // 60).astype(int)
        n_min = int(minute.max())  # drop the last, partial minute
        req_pm = np.bincount(minute, minlength=n_min + 1)[:n_min]
        tok_pm = np.bincount(minute, weights=tokens, minlength=n_min + 1)[:n_min]
        out[name] = {
            "source": [AZURE_URL],
            "source_files": [f"shared/data/traces/azure_llm_2023/{file}"],
            "date": "2023-11-16",
            "confidence": "derived",
            "span_minutes": n_min,
            "stats": {
                "requests_per_s_mean": round(float(req_pm.mean() / 60), 3),
                "cv_1min_requests": round(float(req_pm.std() / req_pm.mean()), 4),
                "peak_1min_to_mean_requests": round(float(req_pm.max() / req_pm.mean()), 4),
                "cv_1min_tokens": round(float(tok_pm.std() / tok_pm.mean()), 4),
                "peak_1min_to_mean_tokens": round(float(tok_pm.max() / tok_pm.mean()), 4),
            },
        }
    return out


# ------------------------------------------------------------------------------------------


def build(traces: Path) -> dict:
    profiles, evidence = servegen_profiles(traces)
    flat = np.ones(HOURS_PER_WEEK)
    profiles["flat"] = {
        "description": "constant rate: take-or-pay GPU-hour contracts are billed every hour whatever the load",
        "rate_unit": "1",
        "mean_rate": 1.0,
        "source": ["https://electroneconomics.substack.com/p/coreweaves-contract-machine-how-a"],
        "source_files": [],
        "date": "2025",
        "confidence": "derived",
        "span_days": 7.0,
        "gap_windows_interpolated": 0,
        "weekly_shape": "none (definition)",
        "stats": {k: round(v, 4) for k, v in profile_stats(flat).items()},
        "values": [1.0] * HOURS_PER_WEEK,
    }
    return {
        "schema_version": 1,
        "generated_by": "bench/demand_profiles.py",
        "hours_per_week": HOURS_PER_WEEK,
        "index": "hour of week: 0 = Monday 00:00-01:00 of the source's clock, 167 = Sunday 23:00-24:00",
        "normalisation": "every profile has mean 1 over its 168 values; multiply by a mean rate",
        "weekday_alignment": evidence,
        "clock": (
            "hour 0 is the first hour of the trace; ServeGen states no time zone. The language subset's minimum near 04:00 with "
            "peaks near 09:00 and 20:00-22:00, and the multimodal subset's 09:00-17:00 plateau, fit China Standard Time (UTC+8), "
            "an assumption; the reasoning subset is busiest between 00:00 and 12:00 of the same clock. Shift with expand_profile(start_hour=...) to place the shape in another zone."
        ),
        "method": " ".join((__doc__ or "").split("Method (the same for every ServeGen subset)")[1].split("Statistics (")[0].strip("-\n ").split()),
        "aliases": ALIASES,
        "profiles": profiles,
        "burstiness": azure_burstiness(traces),
    }


def dump(doc: dict) -> str:
    """YAML with each profile's 168 values as one flow list of 24-value rows (a day per row)."""
    class Flow(list):
        pass

    def flow_rep(dumper, data):
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

    yaml.add_representer(Flow, flow_rep, Dumper=yaml.SafeDumper)
    doc = json.loads(json.dumps(doc))
    for p in doc["profiles"].values():
        p["values"] = [Flow(p["values"][d * 24:(d + 1) * 24]) for d in range(7)]
        p["source"] = Flow(p["source"])
    head = (
        "# Hourly demand shapes for gigafactory.demand (hour of week, mean 1).\n"
        "# GENERATED by bench/demand_profiles.py from shared/data/traces - do not edit by hand;\n"
        "# rerun the script (it documents the method) and commit the result.\n"
        "# values: 7 rows (Monday..Sunday) of 24 hourly relative rates.\n"
    )
    return head + yaml.safe_dump(doc, sort_keys=False, width=140, allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--traces", type=Path, default=DEFAULT_TRACES, help="shared/data/traces folder")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = ap.parse_args(argv)
    text = dump(build(args.traces))
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; rerun python bench/demand_profiles.py", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    doc = yaml.safe_load(text)
    print(f"wrote {args.out}")
    for name, p in doc["profiles"].items():
        s = p["stats"]
        print(f"  {name:30s} peak/mean {s['peak_to_mean']:.3f}  trough/mean {s['trough_to_mean']:.3f}  "
              f"weekday/weekend {s['weekday_to_weekend']:.3f}  cv10 {s.get('cv_10min', 0.0):.3f}  gaps {p['gap_windows_interpolated']}")
    for name, b in doc["burstiness"].items():
        print(f"  {name:30s} {b['stats']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
