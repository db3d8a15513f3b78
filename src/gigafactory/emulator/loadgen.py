"""A lean streaming load generator for the emulator's fidelity test and bench.

Raw asyncio HTTP/1.1 (one connection per request, chunked SSE read as it arrives), so that a
thousand concurrent streams cost the client little next to the server it measures.  It
measures what benchmark clients do: TTFT = first content chunk - send, TPOT = (last - first)
/ (tokens - 1), tokens from the final usage chunk.
"""
from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Result:
    sent_s: float  # wall time the request was sent (perf_counter) [s]
    ttft_s: float = math.nan  # [s wall]
    tpot_s: float = math.nan  # [s wall]
    e2e_s: float = math.nan
    completion_tokens: int = 0
    prompt_tokens: int = 0
    chunks: int = 0
    status: int = 0
    error: str | None = None


async def stream_completion(host: str, port: int, body: dict, path: str = "/v1/completions", api_key: str | None = None,
                            timeout_s: float = 600.0) -> Result:
    """POST ``body`` (with stream: true and include_usage) and time the SSE stream."""
    payload = json.dumps(dict(body, stream=True, stream_options={"include_usage": True})).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nAccept: text/event-stream\r\nConnection: close\r\n"
            + (f"Authorization: Bearer {api_key}\r\n" if api_key else "") + "\r\n").encode()
    res = Result(sent_s=time.perf_counter())
    try:
        await asyncio.wait_for(_run(host, port, head + payload, res), timeout_s)
    except Exception as exc:  # noqa: BLE001 - counted as an error of the load test
        res.error = res.error or f"{type(exc).__name__}: {exc}"
    return res


async def _run(host: str, port: int, request: bytes, res: Result) -> None:
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    try:
        writer.write(request)
        status_line = await reader.readline()
        res.status = int(status_line.split()[1])
        chunked = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"transfer-encoding:") and b"chunked" in line.lower():
                chunked = True
        if res.status != 200:
            res.error = f"HTTP {res.status}: {(await reader.read(4096)).decode(errors='replace')[:300]}"
            return
        buf = b""
        first = last = math.nan
        while True:
            if chunked:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    break
                data = await reader.readexactly(size + 2)
                buf += data[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
            now = time.perf_counter()
            *events, buf = buf.split(b"\n\n")
            for ev in events:
                if not ev.startswith(b"data: "):
                    continue
                d = ev[6:]
                if d == b"[DONE]":
                    continue
                obj = json.loads(d)
                if "error" in obj:
                    res.error = obj["error"].get("message", "error")
                    return
                if obj.get("usage"):
                    res.completion_tokens = obj["usage"]["completion_tokens"]
                    res.prompt_tokens = obj["usage"]["prompt_tokens"]
                for c in obj.get("choices", ()):
                    if c.get("text") or (c.get("delta") or {}).get("content"):
                        res.chunks += 1
                        if first != first:
                            first = now
                        last = now
        res.ttft_s = first - res.sent_s
        res.e2e_s = last - res.sent_s
        if res.completion_tokens > 1:
            res.tpot_s = (last - first) / (res.completion_tokens - 1)
    finally:
        writer.close()


async def open_loop(host: str, port: int, arrivals_s: np.ndarray, bodies: list[dict], api_key: str | None = None) -> list[Result]:
    """Send ``bodies[i]`` at wall offset ``arrivals_s[i]`` from now (open loop), all concurrently."""
    t0 = time.perf_counter()

    async def one(t: float, body: dict) -> Result:
        delay = t0 + t - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return await stream_completion(host, port, body, api_key=api_key)

    return list(await asyncio.gather(*(one(float(t), b) for t, b in zip(arrivals_s, bodies))))
