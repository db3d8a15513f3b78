"""The emulator aborts a request whose client goes away (as vLLM does on a disconnect): real clients
on loopback close a stream mid-way, close a stream still queued, or drop a non-streaming request;
the engine lets the request go (running / waiting counts and KV use fall), `/metrics` counts it
under vLLM's `vllm:request_success_total{finished_reason="abort"}`, and the server keeps serving.

No timing assertions: conditions are polled (bounded) and compared as counts."""
from __future__ import annotations

import time

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("tokenizers")

from gigafactory.catalog import load_catalog
from gigafactory.emulator import build_pool, explicit_spec
from gigafactory.emulator.app import Settings, create_app
from gigafactory.emulator.server import ThreadedServer

MODEL = "llama-3.3-70b"
SYSTEM = "gb300-nvl72"


def _app(max_seqs: int = 64, speedup: float = 5):
    pool = build_pool(load_catalog(), explicit_spec(MODEL, SYSTEM, tp=2, max_seqs=max_seqs, replicas=1, osl=64))
    return create_app([pool], Settings(speedup=speedup))


def _long(prompt_tokens: int = 16, stream: bool = True) -> dict:
    return {"model": MODEL, "prompt": list(range(1, prompt_tokens + 1)), "max_tokens": 4000, "ignore_eos": True, "stream": stream}


def _state(h: httpx.Client) -> dict:
    p = h.get("/admin/state").json()["pools"][0]
    return {"running": p["running"], "waiting": p["waiting"], "aborted": p["aborted"], "kv": p["replicas"][0]["kv_used_fraction"]}


def _aborts(h: httpx.Client) -> float:
    """vllm:request_success_total{finished_reason="abort"} summed over pools."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in h.get("/metrics").text.splitlines()
               if line.startswith("vllm:request_success_total{") and 'finished_reason="abort"' in line)


def _wait(cond, tries: int = 400) -> None:
    for _ in range(tries):
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def _read_tokens(lines, n: int) -> int:
    """Read SSE events until ``n`` token events arrived.  Keep ``lines`` referenced while the stream
    should stay open: httpx closes the connection when a partly read iterator is collected."""
    got = 0
    for line in lines:
        if line.startswith("data:") and '"text":"' in line and '"text":""' not in line:
            got += 1
            if got >= n:
                return got
    return got


def test_closed_stream_is_aborted_and_the_others_go_on():
    with ThreadedServer(_app()) as srv, httpx.Client(base_url=srv.url, timeout=30) as h, \
            httpx.Client(base_url=srv.url, timeout=30) as other:
        with other.stream("POST", "/v1/completions", json=_long()) as keep:
            keep_lines = keep.iter_lines()
            assert _read_tokens(keep_lines, 1) == 1
            alone = _state(h)
            assert alone["running"] == 1
            with h.stream("POST", "/v1/completions", json=_long(prompt_tokens=3000)) as gone:
                assert gone.status_code == 200
                gone_lines = gone.iter_lines()
                assert _read_tokens(gone_lines, 3) == 3
                both = _state(h)
                assert both["running"] == 2 and both["kv"] > alone["kv"]
            # the client closed its stream after 3 tokens: the engine lets the request go
            _wait(lambda: _state(h)["running"] == 1)
            after = _state(h)
            assert after["aborted"] == 1 and _aborts(h) == 1
            assert after["kv"] < both["kv"]  # its 3,000-token prompt and its tokens are freed
            assert _read_tokens(keep_lines, 5) == 5  # the other stream goes on
        _wait(lambda: _state(h)["running"] == 0)
        assert _state(h)["aborted"] == 2 and _state(h)["kv"] == 0
        # the server keeps serving, and a finished request is not an abort
        r = h.post("/v1/completions", json={"model": MODEL, "prompt": "x", "max_tokens": 5, "ignore_eos": True})
        assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 5
        assert _aborts(h) == 2 and _state(h)["aborted"] == 2


def test_closed_stream_still_queued_leaves_the_queue():
    """One sequence at a time: the second stream waits; its client leaves before its first token."""
    with ThreadedServer(_app(max_seqs=1)) as srv, httpx.Client(base_url=srv.url, timeout=30) as h, \
            httpx.Client(base_url=srv.url, timeout=30) as other:
        with other.stream("POST", "/v1/completions", json=_long()) as keep:
            keep_lines = keep.iter_lines()
            assert _read_tokens(keep_lines, 1) == 1
            with h.stream("POST", "/v1/completions", json=_long()) as queued:
                assert queued.status_code == 200
                _wait(lambda: _state(h)["waiting"] == 1)
            _wait(lambda: _state(h)["waiting"] == 0)
            s = _state(h)
            assert s["running"] == 1 and s["aborted"] == 1 and _aborts(h) == 1


def test_dropped_non_streaming_request_is_aborted():
    with ThreadedServer(_app()) as srv, httpx.Client(base_url=srv.url, timeout=30) as h:
        with httpx.Client(base_url=srv.url, timeout=httpx.Timeout(30, read=0.5)) as impatient, \
                pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
            impatient.post("/v1/completions", json=_long(stream=False))
        _wait(lambda: _state(h)["aborted"] == 1)
        assert _state(h)["running"] == 0 and _state(h)["kv"] == 0 and _aborts(h) == 1
        r = h.post("/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3})
        assert r.status_code == 200
