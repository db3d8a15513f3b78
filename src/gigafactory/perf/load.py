"""Latency under load: p50 / p99 TTFT and TPOT of a continuous-batching engine fed by Poisson
arrivals, in closed form, so that `validate` and the configuration search judge p99 limits with
p99s (issue 21) instead of fixed p99 / steady-state ratios.

One scheduler (an engine instance, or one attention-data-parallel rank, which admits its own
requests) is seen as three delays in series, as the simulator's engine (`simulate.engine`) runs it:

1. **admission**: a request waits for room in the KV cache (and, when the engine caps its batch,
   for a free slot).  The KV tokens held by the sequences in flight are an M/G/inf sum (Poisson
   arrivals, lognormal lengths, each sequence growing by one token per step); waiting is Erlang C
   in the Halfin-Whitt approximation, with the KV capacity as the servers and the sequences'
   sizes folded into an equivalent count (:func:`kv_wait`, :func:`slot_wait`).
2. **prefill queue**: prompts are prefilled first come, first served, at up to the per-step
   token budget left after the decode tokens: an M/G/1 queue in prompt tokens, its wait exact up
   to a grid (Pollaczek-Khinchine transform by FFT); several schedulers behind a router that
   sends work where there is least are one M/G/c queue (:func:`ttft_distribution`).
3. **own prefill**, plus the rest of the step running when the request arrives, and, for an
   attention-DP engine that balances its ranks (TensorRT-LLM's ADP balancing), the steps it holds
   a new prompt until the ranks take prompts together (:class:`AdpBalance`, :func:`adp_hold_cdf`).

A request's TPOT is the mean of its decode steps: full-budget steps while the prefill queue is
busy, decode steps otherwise (the busy share of its window varies as for an alternating renewal
process of busy and idle periods), and the batch follows the M/G/inf count (:func:`tpot_spread`).

Nothing here is fitted: every input is a step time of the calibrated step model, a length
distribution or a memory capacity.  Agreement with the simulator is tested in
tests/test_perf_load.py and recorded in docs (accuracy.md, "Latency under load").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr, ndtri

from gigafactory.perf.architecture import ParamCounts
from gigafactory.perf.efficiency import Efficiency
from gigafactory.perf.hardware import Hardware
from gigafactory.perf.layout import Layout
from gigafactory.perf.memory import MAX_TOKENS_PER_STEP, memory_fit
from gigafactory.perf.serving import ServingPoint, Speculation, _mtp_cost, aggregated_point, kv_transfer_s, prefill_rate
from gigafactory.perf.step import step_time

#: coefficient of variation of request lengths when only means are known: MLPerf publishes
#: dataset means and maxima, not distributions; the same assumption as ``simulate.replay.LENGTH_CV``.
DEFAULT_LENGTH_CV = 1.0
#: quantile at which a published maximum length is taken to sit (see :func:`cv_within_max`);
#: None keeps DEFAULT_LENGTH_CV whatever the maximum
MAX_LENGTH_QUANTILE: float | None = 0.999
#: how a router spreads prompts over identical schedulers: "least-work" (each to the one with
#: the least outstanding work, as the simulator's "least-outstanding" router: one M/G/c queue)
#: or "independent" (each scheduler an M/G/1 queue with its share of Poisson arrivals)
PREFILL_ROUTING = "least-work"
#: equal-probability quantile nodes per length distribution: 64 keep a p99 within ~1 % of a
#: 4,096-node evaluation on the MLPerf rows and keep `validate` fast.
LENGTH_NODES = 64
#: nodes for the moments and the prefill-queue wait, where the far tail of the prompt lengths
#: matters (the top node sits at the 99.95th percentile): cheap, as they only enter sums and the FFT
FINE_NODES = 1024
#: nodes of the uniform residual of the step running when a request arrives
RESIDUAL_NODES = 4
#: points of the time grid on which survival functions are inverted for quantiles (linear
#: interpolation between them: well under 1 % on a p99)
GRID_POINTS = 96
#: cells of the grid on which the M/G/1 wait is evaluated by FFT
FFT_POINTS = 4096

_Q = (np.arange(LENGTH_NODES) + 0.5) / LENGTH_NODES
_Z = ndtri(_Q)
_Z_FINE = ndtri((np.arange(FINE_NODES) + 0.5) / FINE_NODES)
_R = (np.arange(RESIDUAL_NODES) + 0.5) / RESIDUAL_NODES


@dataclass(frozen=True)
class Lengths:
    """Request lengths: lognormal with these means and CV, clipped to [1, max] (tokens)."""

    isl_mean: float  # [tokens]
    osl_mean: float  # [tokens]
    cv: float = DEFAULT_LENGTH_CV  # [1]
    isl_max: float | None = None  # [tokens]
    osl_max: float | None = None  # [tokens]
    osl_cv: float | None = None  # output lengths' CV where it differs from the prompts' (None: cv) [1]

    @property
    def output_cv(self) -> float:
        """CV of the output lengths, after the cap a stated maximum puts on it [1]."""
        return cv_within_max(self.osl_mean, self.cv if self.osl_cv is None else self.osl_cv, self.osl_max)

    def nodes(self, n: int = LENGTH_NODES) -> tuple[np.ndarray, np.ndarray]:
        """(prompt, output) lengths at ``n`` equal-probability quantiles, with the stated means
        and at most the CV that puts a stated maximum at MAX_LENGTH_QUANTILE (see
        :func:`cv_within_max`, :func:`lognormal_nodes`) [tokens]."""
        return (lognormal_nodes(self.isl_mean, cv_within_max(self.isl_mean, self.cv, self.isl_max), self.isl_max, n),
                lognormal_nodes(self.osl_mean, self.output_cv, self.osl_max, n))


@dataclass(frozen=True)
class LoadPoint:
    """Latency percentiles of one scheduler at a Poisson arrival rate."""

    rate_rps: float  # arrivals into this scheduler [1/s]
    ttft_p50_s: float
    ttft_p99_s: float
    tpot_p50_s: float
    tpot_p99_s: float
    prefill_utilisation: float  # share of the prefill token budget used [1]
    kv_wait_probability: float  # share of requests that wait for KV room [1]
    stable: bool  # False when a queue grows without bound (every latency is then inf)

    def meets(self, ttft_p99_s: float | None, tpot_p99_s: float | None) -> bool:
        return self.stable and (ttft_p99_s is None or self.ttft_p99_s <= ttft_p99_s) and (tpot_p99_s is None or self.tpot_p99_s <= tpot_p99_s)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AdpBalance:
    """TensorRT-LLM's attention-DP balancing (``attention_dp_config``: enable_balance,
    timeout_iters, batching_wait_iters; NVIDIA's "ADP Balance Strategy" tech blog, 2025).  The
    ranks of an attention-DP instance run each step together, so a prompt prefilled on one rank
    while the others decode stalls them all.  The scheduler therefore holds new prompts: until
    every rank has one and then ``batching_wait_iters`` more steps, or until a counter that
    advances every step the ranks are not all holding one reaches ``timeout_iters`` (then
    whatever is waiting runs).  NVIDIA's MLPerf v5.1-v6.0 DeepSeek-R1 servers set 3 / 9, their
    offline runs 2-10 / 6-500 (bench/data/mlperf_v6_deepseek_configs.csv).  TTFT grows by the hold
    (:func:`adp_hold_cdf`)."""

    timeout_iters: int  # [steps]
    batching_wait_iters: int = 0  # [steps]


def adp_hold_cdf(t_s: np.ndarray, step_s: float, adp: AdpBalance, rank_rate_rps: float, ranks: int) -> np.ndarray:
    """P(hold <= t) for a prompt arriving at one of ``ranks`` attention-DP ranks fed ``rank_rate_rps``
    each (Poisson), under :class:`AdpBalance` with steps of ``step_s`` [1].  The hold is counted in
    whole steps from the first scheduling point after the prompt arrives (the part-step before it
    is the TTFT's residual, counted apart).

    The scheduler releases the held prompts in cycles (its counters restart at each release).  A
    cycle's j-th scheduling point finds every rank holding a prompt with probability
    F(j) = (1 - exp(-q j))^R, q the prompts per rank per step; the cycle then ends W batching steps
    later, and otherwise at the timeout T: L = tau + W if tau <= T, else T steps, so
    P(L > x) = 1 - F(x - W) for x < T and F(T) - F(x - W) from T on.  A prompt seen at a random
    scheduling point of its cycle waits K steps with P(K >= k) = sum_{x >= k} P(L > x) / E[L]
    (the discrete forward recurrence time of L; the tagged prompt's own effect on tau is
    neglected: it is one of R ranks).  Sparse arrivals (MLPerf's servers: q ~ 0.1) give K uniform
    on 0 .. T - 1; dense ones, about W / 2.  Checked against the scheduler's logic run step by
    step in tests/test_perf_load.py."""
    t = np.asarray(t_s, dtype=float)
    if not step_s > 0 or not math.isfinite(step_s):
        return np.ones_like(t)  # no step to hold for
    T, W = max(1, int(adp.timeout_iters)), max(0, int(adp.batching_wait_iters))
    q = rank_rate_rps * step_s if math.isfinite(rank_rate_rps) and rank_rate_rps > 0 else 0.0
    r = max(1, ranks)
    x = np.arange(T + W + 1, dtype=float)
    covered = (-np.expm1(-q * np.maximum(x - W, 0.0))) ** r  # F(x - W), 0 where x <= W
    at_timeout = (-math.expm1(-q * T)) ** r
    survival = np.where(x < T, 1.0 - covered, np.maximum(at_timeout - covered, 0.0))  # P(L > x)
    at_least = np.cumsum(survival[::-1])[::-1] / survival.sum()  # P(K >= k), k = 0 .. T + W
    k = np.floor(np.clip(t / step_s, 0.0, float(at_least.size)) + 1e-9).astype(int) + 1
    return 1.0 - np.where(k < at_least.size, at_least[np.minimum(k, at_least.size - 1)], 0.0)


def cv_within_max(mean: float, cv: float, cap: float | None, quantile: float | None = None) -> float:
    """The lognormal CV to use for lengths of ``mean`` whose published maximum is ``cap``: ``cv``,
    or less when a CV-``cv`` lognormal would put more than 1 - ``quantile`` of the requests at
    or beyond the maximum [1].  A published maximum is the longest of thousands of samples (MLPerf
    llama2-70b: 24,576; llama3.1-405b: 8,313), so it sits near their 99.9th percentile, not at the
    90th where a CV-1 lognormal of the 405B means (9,429 mean, 19,988 max) would put it."""
    q = MAX_LENGTH_QUANTILE if quantile is None else quantile
    if not cap or cap <= mean or not q:
        return cv
    z = float(ndtri(q))
    r = math.log(cap / mean)
    if r >= z * z / 2:
        return cv  # any sigma puts the quantile below the cap
    sigma = z - math.sqrt(z * z - 2 * r)  # smaller root of -sigma^2/2 + z sigma = ln(cap / mean)
    return min(cv, math.sqrt(math.expm1(sigma * sigma)))


UNSTABLE = LoadPoint(0.0, math.inf, math.inf, math.inf, math.inf, 1.0, 1.0, False)


@lru_cache(maxsize=256)
def lognormal_nodes(mean: float, cv: float, cap: float | None = None, n: int = LENGTH_NODES) -> np.ndarray:
    """``n`` equal-probability quantiles of a lognormal with coefficient of variation ``cv``,
    clipped to [1, cap] and scaled so that their mean is ``mean`` [tokens].

    Published maxima sit close to the means at times (MLPerf Llama-3.1-8B: mean output 129, max
    128: outputs are truncated at max_tokens), so clipping a lognormal of the stated mean would
    change the mean the throughput is compared at; scaling before clipping keeps it, and a cap
    near the mean then makes the lengths almost fixed, as truncation does."""
    z = _Z if n == LENGTH_NODES else _Z_FINE if n == FINE_NODES else ndtri((np.arange(n) + 0.5) / n)
    if cv <= 0:
        out = np.full(n, float(min(mean, cap) if cap else mean))
        out.flags.writeable = False
        return out
    s2 = math.log1p(cv * cv)
    x = np.exp(math.log(mean) - s2 / 2 + math.sqrt(s2) * z)
    if cap and cap <= mean:
        out = np.full(n, float(cap))
        out.flags.writeable = False
        return out
    hi = cap or np.inf
    scale = 1.0
    for _ in range(30):  # the clipped mean rises monotonically with the scale
        scale *= mean / float(np.clip(scale * x, 1.0, hi).mean())
        if abs(np.clip(scale * x, 1.0, hi).mean() - mean) < 1e-6 * mean:
            break
    out = np.clip(scale * x, 1.0, hi)
    out.flags.writeable = False  # cached: shared by every caller
    return out


def halfin_whitt_wait_probability(beta: float) -> float:
    """Erlang C probability of waiting with many servers, at spare capacity ``beta`` =
    (servers - load) / sqrt(load) (Halfin & Whitt 1981, Operations Research 29(3)) [1]."""
    if beta <= 0:
        return 1.0
    if beta > 30:
        return 0.0  # below 1e-190
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    return 1.0 / (1.0 + beta * float(ndtr(beta)) / phi)


def kv_wait(rate_rps: float, isl: np.ndarray, osl: np.ndarray, tpot_s: float, kv_capacity_tokens: float) -> tuple[float, float, float]:
    """Admission wait for KV room: (probability of waiting [1], rate of the exponential wait of
    those who wait [1/s], mean sequences in flight [1]); probability 1 and rate 0 when the mean
    KV demand exceeds the capacity.

    A sequence of prompt I and output O holds I + t / tpot tokens at age t for O x tpot seconds,
    so with Poisson arrivals the tokens held are M/G/inf with mean lambda tpot E[O I + O^2/2] and
    variance lambda tpot E[O I^2 + I O^2 + O^3/3] (Campbell's theorem).  With kappa = variance /
    mean tokens per equivalent sequence, the cache is Erlang C with capacity / kappa servers.
    """
    ei, ei2 = isl.mean(), (isl * isl).mean()
    eo, eo2, eo3 = osl.mean(), (osl * osl).mean(), (osl ** 3).mean()
    lam_t = rate_rps * tpot_s
    mean = lam_t * (eo * ei + eo2 / 2)
    var = lam_t * (eo * ei2 + ei * eo2 + eo3 / 3)
    in_flight = rate_rps * tpot_s * eo
    if mean >= kv_capacity_tokens or var <= 0:
        return 1.0, 0.0, in_flight
    p = halfin_whitt_wait_probability((kv_capacity_tokens - mean) / math.sqrt(var))
    kappa = var / mean
    lifetime = tpot_s * eo
    return p, (kv_capacity_tokens - mean) / kappa / lifetime, in_flight


def slot_wait(in_flight: float, lifetime_s: float, slots: int) -> tuple[float, float]:
    """Admission wait for a free batch slot when at most ``slots`` sequences run at once
    (the engine's max_seqs), ``in_flight`` on average, each for ``lifetime_s``: Erlang C with
    ``slots`` servers, (probability of waiting [1], rate of the exponential wait [1/s])."""
    if in_flight >= slots:
        return 1.0, 0.0
    return halfin_whitt_wait_probability((slots - in_flight) / math.sqrt(max(in_flight, 1e-9))), (slots - in_flight) / lifetime_s


def _worse_wait(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """Of two (probability, rate) exponential waits, the one with the longer mean wait."""
    def mean(w: tuple[float, float]) -> float:
        return math.inf if w[1] <= 0 and w[0] > 0 else (w[0] / w[1] if w[0] > 0 else 0.0)
    return a if mean(a) >= mean(b) else b


def erlang_c(servers: int, load: float) -> float:
    """Probability of waiting in M/M/c with ``servers`` and offered ``load`` = lambda E[S]
    (Erlang B by its recursion, then C = B / (1 - rho (1 - B))) [1]."""
    if load <= 0:
        return 0.0
    if load >= servers:
        return 1.0
    if servers > 2000:
        return halfin_whitt_wait_probability((servers - load) / math.sqrt(load))
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b / (1 - load / servers * (1 - b))


def admission_utilisation(slots: float, lifetime_s: float, wait_budget_s: float, quantile: float = 0.99) -> float:
    """The largest utilisation a = load / slots of an engine that runs at most ``slots`` sequences at
    once, each for ``lifetime_s``, at which Poisson arrivals wait for a slot longer than
    ``wait_budget_s`` with probability at most 1 - ``quantile`` [1].

    M/M/c with the slots as servers: P(wait > t) = C(c, a) exp(-(c - a) t / lifetime), Erlang C
    in the Halfin-Whitt approximation (:func:`halfin_whitt_wait_probability`).  A saturated
    engine (a = 1) queues without bound, so a server fed at random runs below its offline rate by
    the spare slots its p99 needs: about (lifetime / budget) x ln(C / (1 - quantile)) of them.
    0 when no load meets the budget."""
    if slots <= 0 or lifetime_s <= 0 or wait_budget_s <= 0:
        return 0.0
    tail = 1.0 - quantile

    def ok(a: float) -> bool:
        load = a * slots
        return halfin_whitt_wait_probability((slots - load) / math.sqrt(load)) * math.exp(-(slots - load) * wait_budget_s / lifetime_s) <= tail

    if ok(1.0 - 1e-9):
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def ttft_distribution(rate_rps: float, service_s: np.ndarray, own_s: np.ndarray, residual_s: float,
                      kv_wait_probability: float = 0.0, kv_wait_rate: float = math.inf, servers: int = 1,
                      hold: tuple[float, Callable[[np.ndarray], np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(grid [s], P(TTFT <= grid) [1]) with TTFT = KV admission wait + prefill-queue wait +
    residual of the step running at arrival (uniform on [0, ``residual_s``]) + own prefill
    (+ a scheduler's hold: ``hold`` = (its longest [s], its CDF), :func:`adp_hold_cdf`).

    prefill queue: the M/G/1 first-come-first-served queue of one scheduler, Poisson
    ``rate_rps``, service ``service_s`` per equal-probability length node.  Its wait is exact up
    to the grid: Pollaczek-Khinchine, W is a geometric(rho) sum of equilibrium residuals of the
    service time, transform (1 - rho) / (1 - rho F_e).  Lognormal prompts give it a subexponential
    tail (at rho = 0.3 the p99 is twice that of an exponential tail with the same mean).
    KV admission: none with probability 1 - ``kv_wait_probability``, else exponential with
    ``kv_wait_rate``.  Own prefill ``own_s`` per length node (the same nodes as ``service_s``:
    a prompt's wait does not depend on its own length).  The independent parts are convolved by
    FFT on FFT_POINTS cells.

    ``servers`` > 1: prompts (Poisson ``rate_rps`` in all) go to ``servers`` schedulers behind a
    router that sends each to the least loaded, taken as one first-come-first-served M/G/c queue
    (least-work-left routing is exactly that), in the approximation of Boxma, Cohen & Huffels
    (1979): P(W_c > t) = C(c, a) / rho x P(W_1 > t), W_1 the M/G/1 wait with service S / c.
    """
    k = max(1, int(servers))
    if k > 1:
        service_s = service_s / k
    rho = rate_rps * float(service_s.mean())
    if rho >= 1:  # the queue grows without bound (callers check first; this guards rounding)
        return np.array([math.inf]), np.array([0.0])
    mean_q = rate_rps * float((service_s * service_s).mean()) / (2 * (1 - rho)) if rho > 0 else 0.0
    has_kv = kv_wait_probability > 1e-9 and math.isfinite(kv_wait_rate) and kv_wait_rate > 0
    base = (own_s[:, None] + residual_s * _R[None, :]).ravel()
    span = (40 * mean_q + 4 * float(service_s.max()) + (40 / kv_wait_rate if has_kv else 0.0) + 1.5 * float(base.max())
            + (hold[0] if hold else 0.0))
    dx = span / FFT_POINTS
    edges = np.arange(1, FFT_POINTS + 1) * dx
    hist = np.bincount(np.minimum((base / dx).astype(int), FFT_POINTS - 1), minlength=FFT_POINTS) / base.size
    spec = np.fft.rfft(hist)
    if rho > 0:
        if span / FFT_POINTS > float(service_s.mean()) / 8:
            # too close to rho = 1 for the grid to resolve a service time: the heavy-traffic
            # limit, an exponential wait (Kingman), P(W > 0) = rho, the Pollaczek-Khinchine mean
            theta = rho / mean_q
            pw = rho * (np.exp(-theta * (edges - dx)) - np.exp(-theta * edges))
            pw[0] += 1 - rho
            wait = np.fft.rfft(pw)
        else:
            srt = np.sort(service_s)
            tail = 1.0 - np.searchsorted(srt, edges - dx / 2, side="right") / srt.size  # P(S > x)
            if tail.sum() <= 0:  # every service shorter than half a cell
                tail[0] = 1.0
            pe = tail / tail.sum()  # equilibrium residual density P(S > x) / E[S], per cell
            wait = (1 - rho) / (1 - rho * np.fft.rfft(pe))
        if k > 1:  # rescale the probability of waiting from rho to Erlang C
            c = erlang_c(k, rho * k)
            wait = 1 - c + c / rho * (wait - (1 - rho))
        spec = spec * wait
    if has_kv:
        pk = kv_wait_probability * (np.exp(-kv_wait_rate * (edges - dx)) - np.exp(-kv_wait_rate * edges))
        pk[0] += 1 - kv_wait_probability
        spec = spec * np.fft.rfft(pk)
    if hold:
        spec = spec * np.fft.rfft(np.diff(hold[1](edges), prepend=0.0))  # mass per cell (k dx, (k + 1) dx]
    return edges, np.clip(np.cumsum(np.fft.irfft(spec, FFT_POINTS)), 0.0, 1.0)


def quantiles_from_cdf(grid: np.ndarray, cdf: np.ndarray, qs: tuple[float, ...] = (0.5, 0.99)) -> list[float]:
    """Times at which a CDF tabulated at the right edges ``grid`` of equal cells reaches each q
    (linear within a cell) [s]."""
    dx = float(grid[0])
    out = []
    for q in qs:
        k = int(np.searchsorted(cdf, q))
        if k >= cdf.size:
            out.append(math.inf)
            continue
        c0 = cdf[k - 1] if k > 0 else 0.0
        out.append(float(grid[k] - dx + dx * (q - c0) / max(cdf[k] - c0, 1e-300)))
    return out


def busy_fraction_variance(rate_rps: float, service_s: np.ndarray, arrival_scv: float = 1.0) -> tuple[float, float]:
    """(rho, c): the prefill server of a queue fed at ``rate_rps`` is busy a share rho of the
    time, and the share of a window w it is busy has variance min(rho (1 - rho), c / w) [1, s].

    Over a long window the busy time is the work that arrived in it (the queue at either end is
    bounded), so c is the variance rate of the arriving work: lambda (var S + c_a^2 E[S]^2) for
    renewal arrivals whose gaps have squared CV ``arrival_scv`` = c_a^2.  Poisson arrivals (c_a^2
    = 1) give lambda E[S^2], what the alternating renewal of M/G/1 busy periods (Takacs) gives
    too.  A router that deals a Poisson stream out over N schedulers in turn leaves each gaps
    of N exponentials: c_a^2 = 1/N (:func:`split_arrival_scv`)."""
    es, es2 = float(service_s.mean()), float((service_s * service_s).mean())
    rho = rate_rps * es
    if rho <= 0 or rho >= 1:
        return rho, 0.0
    return rho, rate_rps * (es2 - (1.0 - arrival_scv) * es * es)


def split_arrival_scv(schedulers: int) -> float:
    """Squared CV of the gaps between the requests one of ``schedulers`` identical schedulers
    receives when a router deals a Poisson stream out over them in turn (each gap is the sum of
    ``schedulers`` exponential gaps) [1].  A router that sends each request where the least work
    is waiting evens the schedulers out at least as well, so it is taken at this value too."""
    return 1.0 / max(1, int(schedulers))


def count_peakedness(arrival_scv: float, lifetimes: np.ndarray) -> float:
    """Variance / mean of the number of sequences in flight (a GI/G/inf count) [1]:
    z = 1 + (c_a^2 - 1) E[min(L1, L2)] / E[L] for arrival gaps of squared CV c_a^2 and i.i.d.
    lifetimes L (Whitt's peakedness of an infinite-server queue in heavy traffic; Poisson
    arrivals give 1, the M/G/inf count).  ``lifetimes``: equal-probability nodes."""
    if arrival_scv == 1.0:
        return 1.0
    srt = np.sort(np.asarray(lifetimes, dtype=float))
    n = srt.size
    # E[min(L1, L2)] over independent draws from the nodes: node k is the smaller of a pair
    # with probability (2 (n - k) - 1) / n^2 (0-based, ascending)
    e_min = float((srt * (2 * (n - np.arange(n)) - 1)).sum()) / (n * n)
    mean = float(srt.mean())
    return 1.0 + (arrival_scv - 1.0) * (e_min / mean if mean > 0 else 1.0)


def tpot_spread(osl: np.ndarray, tokens_per_step: float, step_s: float, step_decode_s: float, step_full_s: float,
                rho: float, busy_c: float, elasticity: float, in_flight: float, peakedness: float = 1.0) -> np.ndarray:
    """Standard deviation of each output-length node's TPOT [s].

    prefill: a request's steps are full-budget steps (``step_full_s``) while the prefill queue
    is busy and decode steps otherwise; the busy share f of its window (k steps of ``step_s``)
    varies as :func:`busy_fraction_variance`, and TPOT = tau_d / (1 - f (1 - tau_d / tau_f))
    moves by step^2 (1 - tau_d / tau_f) / tau_d per unit of f.
    batch: the batch follows the sequences-in-flight count (variance = ``peakedness`` x mean:
    1 for Poisson arrivals, the M/G/inf count), whose average over a window w has variance
    z n (1 - w / 3L) for w <= L and z n (L/w - L^2 / 3w^2) beyond (triangular autocovariance of a
    count with lifetime L); the decode step scales as batch^elasticity and the mean step as the
    decode step.
    """
    k = np.maximum(1.0, (osl - 1) / tokens_per_step)
    window = k * step_s
    var_f = np.minimum(rho * (1 - rho), busy_c / window) if 0 < rho < 1 else np.zeros_like(window)
    sens = step_s * step_s * max(0.0, 1 - step_decode_s / step_full_s) / step_decode_s if step_decode_s > 0 and step_full_s > 0 else 0.0
    life = max(osl.mean() / tokens_per_step * step_s, 1e-12)
    r = window / life
    f = np.where(r <= 1, 1 - r / 3, 1 / np.maximum(r, 1) - 1 / (3 * np.maximum(r, 1) ** 2))
    slow = step_s * elasticity * np.sqrt(peakedness * f / max(in_flight, 1.0))
    return np.sqrt(sens * sens * var_f + slow * slow) / tokens_per_step


def tpot_quantiles(mean_s: float, sd_s: np.ndarray, qs: tuple[float, ...] = (0.5, 0.99)) -> list[float]:
    """Quantiles of a request's TPOT: normal per output-length node, mixed over nodes [s]."""
    sd = np.maximum(sd_s, 1e-12 * mean_s)
    t = mean_s + sd.max() * np.linspace(-4.0, 8.0, GRID_POINTS)
    surv = ndtr((mean_s - t[:, None]) / sd[None, :]).mean(axis=1)
    return [float(np.interp(1 - q, surv[::-1], t[::-1])) for q in qs]


def latency_under_load(
    rate_rps: float, lengths: Lengths, tokens_per_step: float, step_s: float, step_decode_s: float, step_full_s: float,
    prefill_tokens_per_step: float, kv_capacity_tokens: float, elasticity: float, schedulers: int = 1, max_seqs: int | None = None,
    full_step_s_per_context_token: float = 0.0, adp: AdpBalance | None = None, adp_ranks: int = 1,
) -> LoadPoint:
    """p50 / p99 TTFT and TPOT of one aggregated scheduler (chunked prefill shares each step with decode).

    rate_rps: Poisson arrivals into this scheduler [1/s]; tokens_per_step: output tokens per
    sequence per step (MTP acceptance) [1]; step_s: mean step at this load [s]; step_decode_s: the
    step without prefill [s]; step_full_s: the step with a full prefill budget [s];
    prefill_tokens_per_step: prompt tokens a step can carry beside the decode tokens [tokens];
    kv_capacity_tokens: [tokens]; elasticity: d ln(step_decode_s) / d ln(batch) [1];
    schedulers: identical schedulers behind one router [count]: KV room is pooled across them
    (new requests go where there is room); prompts queue at the scheduler they were sent to
    (one M/G/1 each: a router cannot move a prompt once a long one is ahead of it);
    max_seqs: sequences one scheduler admits at most (None: only the KV cache limits) [count];
    full_step_s_per_context_token: how much longer the full step is per token of context its
    prompt chunks attend to, beyond the mean prompt's (attention over the prompt so far): a prompt
    of I tokens is served in I x (step_full_s + slope x (I - isl_mean) / 2) / budget [s];
    adp: attention-DP balancing of instances of ``adp_ranks`` ranks (each a scheduler here), whose
    hold adds to the TTFT (:class:`AdpBalance`; None: prompts are scheduled at once).
    """
    if rate_rps <= 0 or prefill_tokens_per_step <= 0 or not all(map(math.isfinite, (step_s, step_decode_s, step_full_s))):
        return UNSTABLE
    isl, osl = lengths.nodes()
    isl_f, osl_f = lengths.nodes(FINE_NODES)
    tpot = step_s / tokens_per_step
    pa, ta, n = kv_wait(rate_rps * schedulers, isl_f, osl_f, tpot, kv_capacity_tokens * schedulers)
    n /= schedulers
    if max_seqs:
        pa, ta = _worse_wait((pa, ta), slot_wait(n * schedulers, tpot * float(osl_f.mean()), max_seqs * schedulers))
    # seconds per prompt token of each length node: chunks of a long prompt attend to more context
    s_node = np.maximum(step_full_s + full_step_s_per_context_token * (isl_f - lengths.isl_mean) / 2, 0.5 * step_full_s) / prefill_tokens_per_step
    service = isl_f * s_node
    rho = rate_rps * float(service.mean())  # as ttft_distribution computes it
    if ta <= 0 or rho >= 1:
        return LoadPoint(rate_rps, math.inf, math.inf, math.inf, math.inf, rho, pa, False)
    extra = max(step_full_s - step_decode_s, 0.0) / prefill_tokens_per_step  # a prompt token's share of a step [s]
    own = np.maximum(service, step_s + isl_f * extra)
    pool = schedulers if PREFILL_ROUTING == "least-work" else 1
    hold = None
    if adp is not None and adp_ranks > 1:
        hold = ((adp.timeout_iters + adp.batching_wait_iters) * step_s,
                lambda t: adp_hold_cdf(t, step_s, adp, rate_rps, adp_ranks))
    t50, t99 = quantiles_from_cdf(*ttft_distribution(rate_rps * pool, service, own, step_s, pa, ta, pool, hold))
    multi = osl[osl >= 2] if (osl >= 2).any() else osl  # 64 nodes: the p99 moves < 1 % against 1,024
    # each scheduler gets its share of the arrivals dealt out by the router: smoother than Poisson
    scv = split_arrival_scv(schedulers)
    _, busy_c = busy_fraction_variance(rate_rps, service, scv)
    sd = tpot_spread(multi, tokens_per_step, step_s, step_decode_s, step_full_s, rho, busy_c, elasticity, n,
                     count_peakedness(scv, osl_f))
    p50, p99 = tpot_quantiles(tpot, sd)
    return LoadPoint(rate_rps, t50, t99, p50, p99, rho, pa, True)


def _elasticity(m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, layout: Layout, precision: str, batch: float, ctx: float, width: int) -> tuple[float, float]:
    """(decode step [s], d ln step / d ln batch [1]) at ``batch`` sequences per micro-batch."""
    a = step_time(m, pc, hw, eff, layout, precision, batch, ctx, 0.0, 0.0, width).total_s
    b = step_time(m, pc, hw, eff, layout, precision, batch * 1.25, ctx, 0.0, 0.0, width).total_s
    return a, max(0.0, math.log(b / a) / math.log(1.25)) if a > 0 and b > 0 else 0.0


def aggregated_load(
    m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, layout: Layout, precision: str, lengths: Lengths,
    concurrency: int, spec: Speculation = Speculation(), point: ServingPoint | None = None, instances: int = 1,
    max_seqs: int | None = None, rate_scale: float = 1.0, adp: AdpBalance | None = None,
) -> tuple[ServingPoint, LoadPoint] | None:
    """The steady point of one aggregated instance at ``concurrency`` sequences
    (:func:`perf.serving.aggregated_point`) and the latencies at ``rate_scale`` x its arrival rate
    (the step times stay those of the point: conservative below 1); None if it does not fit.
    ``instances`` identical instances share the traffic behind one router; attention-data-parallel
    ranks are schedulers of their own, each with 1/tp of an instance's traffic, and ``adp`` is how
    their engine balances them (:class:`AdpBalance`; None: no hold)."""
    isl, osl = lengths.isl_mean, lengths.osl_mean
    p = point or aggregated_point(m, pc, hw, eff, layout, precision, isl, osl, concurrency, spec)
    if p is None:
        return None
    ranks = layout.tp if layout.dp_attention else 1
    pp, width, acc = layout.pp, 1 + spec.draft_tokens, spec.tokens_per_step
    per_mb = concurrency / pp
    room = MAX_TOKENS_PER_STEP * ranks - per_mb * width  # prompt tokens per micro-batch step
    if room <= 0:
        return p, UNSTABLE
    cost = pp * _mtp_cost(m, spec)
    ctx = isl + osl / 2
    st_d, e = _elasticity(m, pc, hw, eff, layout, precision, per_mb, ctx, width)
    st_f = step_time(m, pc, hw, eff, layout, precision, per_mb, ctx, room, isl / 2, width).total_s
    st_f2 = step_time(m, pc, hw, eff, layout, precision, per_mb, ctx, room, 1.5 * isl, width).total_s  # chunks attending to isl more
    rate = p.tok_s_gpu * p.gpus / osl / ranks * rate_scale
    fit = memory_fit(m, pc, hw, layout, precision, int(isl + osl))
    lp = latency_under_load(rate, lengths, acc, p.tpot_s * acc, st_d * cost, st_f * cost, pp * room / ranks, fit.kv_capacity_tokens / ranks, e,
                            max(1, instances) * ranks, max(1, max_seqs // ranks) if max_seqs else None, (st_f2 - st_f) * cost / isl,
                            adp if layout.dp_attention else None, ranks)
    return p, lp


def disaggregated_load(
    m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, p: ServingPoint, precision: str, lengths: Lengths,
    spec: Speculation = Speculation(), max_seqs: int | None = None, rate_scale: float = 1.0,
) -> LoadPoint:
    """Latencies of a disaggregated point (:func:`perf.serving.disaggregated_point`): TTFT from
    each prefill instance's M/G/1 queue plus the KV transfer, TPOT and KV admission from the
    decode instances, whose steps carry no prefill."""
    isl_m, osl_m = lengths.isl_mean, lengths.osl_mean
    dec, pre = p.layout, p.prefill_layout
    if pre is None or p.prefill_instances < 1:
        return UNSTABLE
    isl, osl = lengths.nodes()
    isl_f, osl_f = lengths.nodes(FINE_NODES)
    ranks = dec.tp if dec.dp_attention else 1
    width, acc = 1 + spec.draft_tokens, spec.tokens_per_step
    rate_total = p.tok_s_gpu * p.gpus / osl_m * rate_scale
    req_s_p, latency_p = prefill_rate(m, pc, hw, eff, pre, precision, isl_m)
    s_tok = 1.0 / (req_s_p * isl_m)
    rate_p = rate_total / p.prefill_instances
    rho = rate_p * float((isl_f * s_tok).mean())  # as wait_distribution computes it
    st_d, e = _elasticity(m, pc, hw, eff, dec, precision, p.concurrency / dec.pp, isl_m + osl_m / 2, width)
    rate_d = rate_total / p.decode_instances / ranks
    fit = memory_fit(m, pc, hw, dec, precision, int(isl_m + osl_m))
    pools = p.decode_instances * ranks
    pa, ta, n = kv_wait(rate_d * pools, isl_f, osl_f, p.tpot_s, fit.kv_capacity_tokens / ranks * pools)
    n /= pools
    if max_seqs:
        pa, ta = _worse_wait((pa, ta), slot_wait(n * pools, p.tpot_s * float(osl_f.mean()), max(1, max_seqs // ranks) * pools))
    if ta <= 0 or rho >= 1:
        return LoadPoint(rate_d, math.inf, math.inf, math.inf, math.inf, rho, pa, False)
    same = p.gpus <= hw.domain_gpus
    transfer_s_per_token = kv_transfer_s(m, hw, precision, 1.0, same)
    # a prompt rides in a full prefill step (latency_p, the steps of every pipeline stage), and one
    # longer than a step's token budget in as many steps as it fills
    budget_tokens = latency_p / pre.pp / s_tok
    own = latency_p * np.maximum(1.0, isl_f / budget_tokens) + transfer_s_per_token * isl_f
    pool = p.prefill_instances if PREFILL_ROUTING == "least-work" else 1
    t50, t99 = quantiles_from_cdf(*ttft_distribution(rate_p * pool, isl_f * s_tok, own, latency_p * rho, pa, ta, pool))
    step = p.tpot_s * acc
    multi = osl[osl >= 2] if (osl >= 2).any() else osl  # 64 nodes: the p99 moves < 1 % against 1,024
    sd = tpot_spread(multi, acc, step, st_d * dec.pp * _mtp_cost(m, spec), step, 0.0, 0.0, e, n)
    p50, p99 = tpot_quantiles(p.tpot_s, sd)
    return LoadPoint(rate_d, t50, t99, p50, p99, rho, pa, True)


def load_at(p: ServingPoint, m: Any, pc: ParamCounts, hw: Hardware, eff: Efficiency, precision: str, lengths: Lengths,
            spec: Speculation = Speculation(), instances: int = 1, max_seqs: int | None = None, rate_scale: float = 1.0,
            adp: AdpBalance | None = None) -> LoadPoint:
    """Latencies of a steady point at ``rate_scale`` x its own arrival rate: :func:`aggregated_load`
    or :func:`disaggregated_load`; ``instances`` serving units share the traffic; ``max_seqs`` caps
    the sequences an (decode) instance admits (None: only its KV cache does); ``adp``: the
    attention-DP balancing of an aggregated instance (a disaggregated decode pool has no prompts
    to hold)."""
    if p.mode == "disaggregated":
        return disaggregated_load(m, pc, hw, eff, p, precision, lengths, spec, max_seqs=max_seqs, rate_scale=rate_scale)
    res = aggregated_load(m, pc, hw, eff, p.layout, precision, lengths, p.concurrency, spec, point=p, instances=instances, max_seqs=max_seqs,
                          rate_scale=rate_scale, adp=adp)
    return res[1] if res else UNSTABLE
