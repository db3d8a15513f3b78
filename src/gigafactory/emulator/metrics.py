"""Prometheus metrics under vLLM's names (vLLM V1 ``vllm/v1/metrics/loggers.py``), from the engine.

Latencies are in the virtual factory's seconds (the engine's event times), so they read as the
modelled hardware's whatever ``--speedup`` is; counters count tokens and requests.  Gauges are
read from the replicas at scrape time.  Each app has its own registry (several emulators can
run in one process, as the tests do).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from gigafactory.emulator.driver import Driver, Stream
    from gigafactory.emulator.fleet import LivePool

# vLLM's bucket boundaries [s]
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
LABELS = ("model_name", "pool")


class EmulatorMetrics:
    """The registry and the driver's observer."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.ttft = Histogram("vllm:time_to_first_token_seconds", "Time to first token [s, simulated].", LABELS, buckets=TTFT_BUCKETS, registry=r)
        self.itl = Histogram("vllm:inter_token_latency_seconds", "Inter-token latency [s, simulated].", LABELS, buckets=ITL_BUCKETS, registry=r)
        self.e2e = Histogram("vllm:e2e_request_latency_seconds", "End-to-end request latency [s, simulated].", LABELS, buckets=E2E_BUCKETS, registry=r)
        self.prompt = Counter("vllm:prompt_tokens", "Prefill tokens processed.", LABELS, registry=r)
        self.generation = Counter("vllm:generation_tokens", "Generation tokens processed.", LABELS, registry=r)
        self.pc_queries = Counter("vllm:prefix_cache_queries", "Prompt tokens looked up in the prefix cache.", LABELS, registry=r)
        self.pc_hits = Counter("vllm:prefix_cache_hits", "Prompt tokens found in the prefix cache.", LABELS, registry=r)
        self.success = Counter("vllm:request_success", "Requests finished.", LABELS + ("finished_reason",), registry=r)
        self.rejected = Counter("gigafactory:requests_rejected", "Requests refused at admission (429) or by an unavailable pool (503).",
                                LABELS + ("code",), registry=r)
        self.driver: Driver | None = None

    def attach(self, driver: "Driver") -> None:
        from gigafactory.emulator.driver import Observer

        self.driver = driver
        driver.observer = Observer(first_token=self._first, tokens=self._tokens, finished=self._finished, aborted=self._aborted)
        self.registry.register(_Gauges(self))

    def _first(self, lp: "LivePool", s: "Stream") -> None:
        labels = (lp.model_id, lp.name)
        self.ttft.labels(*labels).observe(s.first_s - s.arrival_s)
        self.prompt.labels(*labels).inc(s.prompt_tokens)
        self.pc_queries.labels(*labels).inc(s.prompt_tokens)
        self.pc_hits.labels(*labels).inc(s.cached_tokens)
        self.generation.labels(*labels).inc(1)

    def _tokens(self, lp: "LivePool", s: "Stream", k: int, gap_s: float) -> None:
        h = self.itl.labels(lp.model_id, lp.name)
        for _ in range(k):
            h.observe(gap_s)
        self.generation.labels(lp.model_id, lp.name).inc(k)

    def _finished(self, lp: "LivePool", s: "Stream") -> None:
        self.e2e.labels(lp.model_id, lp.name).observe(s.finish_s - s.arrival_s)

    def _aborted(self, lp: "LivePool", s: "Stream") -> None:
        # vLLM counts a request aborted on a client disconnect under finished_reason="abort" (FinishReason.ABORT)
        self.success.labels(lp.model_id, lp.name, "abort").inc()

    def finished_reason(self, lp: "LivePool", reason: str) -> None:
        self.success.labels(lp.model_id, lp.name, reason).inc()


class _Gauges:
    """Scrape-time gauges read from the replicas."""

    def __init__(self, m: EmulatorMetrics) -> None:
        self.m = m

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator:
        from prometheus_client.core import GaugeMetricFamily

        d = self.m.driver
        running = GaugeMetricFamily("vllm:num_requests_running", "Requests in model execution batches.", labels=LABELS)
        waiting = GaugeMetricFamily("vllm:num_requests_waiting", "Requests waiting to be processed.", labels=LABELS)
        kv = GaugeMetricFamily("vllm:kv_cache_usage_perc", "KV-cache usage, 1 = full (mean over live replicas).", labels=LABELS)
        up = GaugeMetricFamily("gigafactory:replicas_up", "Live replicas of the pool.", labels=LABELS)
        if d is not None:
            for i, lp in enumerate(d.pools):
                labels = [lp.model_id, lp.name]
                reps = lp.pool.replicas + lp.pool.decode_replicas
                running.add_metric(labels, d.running(i))
                waiting.add_metric(labels, d.waiting(i))
                fr = [min(1.0, r.kv_used() / r.cap) for r in reps if 0 < r.cap < float("inf")]
                kv.add_metric(labels, sum(fr) / len(fr) if fr else 0.0)
                up.add_metric(labels, len(reps))
        yield from (running, waiting, kv, up)
