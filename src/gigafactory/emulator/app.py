"""The HTTP surface: an OpenAI-compatible API in front of the live driver (FastAPI).

Handlers parse (``protocol``), ask the driver for a stream and format what the engine
reports; they hold no timing of their own.  Routes: ``/v1/chat/completions``,
``/v1/completions``, ``/v1/models``, ``/health``, ``/metrics``, and ``/admin/faults`` /
``/admin/state`` for fault injection.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gigafactory.emulator import protocol
from gigafactory.emulator.driver import Driver, Stream
from gigafactory.emulator.fleet import PREFIX_BLOCK_TOKENS, LivePool
from gigafactory.emulator.metrics import EmulatorMetrics
from gigafactory.emulator.protocol import APIError, bad

#: default most requests waiting per pool before new ones get 429.
DEFAULT_MAX_WAITING = 1024


@dataclass
class Settings:
    api_key: str | None = None
    speedup: float = 1.0
    max_waiting: int = DEFAULT_MAX_WAITING  # per pool; 0 = no limit
    served_names: dict[str, list[int]] = field(default_factory=dict)  # extra model names -> pools


def _error(e: APIError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


def create_app(pools: list[LivePool], settings: Settings | None = None) -> FastAPI:
    """The emulator's app over ``pools``; the driver starts with the app (lifespan)."""
    from contextlib import asynccontextmanager

    cfg = settings or Settings()
    metrics = EmulatorMetrics()
    driver = Driver(pools, cfg.speedup)
    metrics.attach(driver)
    names = _model_names(pools, cfg.served_names)
    ids = itertools.count(1)
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        protocol.tokenizer.encode("load the vocabulary now, not on the first request")
        driver.start()
        yield
        await driver.stop()

    app = FastAPI(title="gigafactory emulator", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.driver, app.state.metrics, app.state.settings = driver, metrics, cfg

    @app.exception_handler(APIError)
    async def _api_error(_: Request, e: APIError) -> JSONResponse:
        return _error(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code)
        return _error(APIError(e.status_code, str(e.detail), "invalid_request_error", None, code))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        return _error(bad("invalid request: " + "; ".join(str(x.get("msg")) for x in e.errors()[:3])))

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception) -> JSONResponse:  # a bug, never the client's input
        return _error(APIError(500, f"internal error: {type(e).__name__}", "server_error"))

    def auth(request: Request) -> None:
        if cfg.api_key is None:
            return
        h = request.headers.get("authorization", "")
        if h != f"Bearer {cfg.api_key}":
            raise APIError(401, "Incorrect API key provided." if h else "You didn't provide an API key.",
                           "invalid_request_error", None, "invalid_api_key")

    def choose_pool(model: str) -> int:
        cand = names.get(model)
        if cand is None:
            raise APIError(404, f"The model `{model}` does not exist or you do not have access to it.", "invalid_request_error",
                           "model", "model_not_found")
        live = [i for i in cand if driver.available(i)]
        if not live:
            raise APIError(503, f"no replica serving `{model}` is up", "server_error", None, "service_unavailable",
                           headers={"Retry-After": "1"})
        # several pools serve the model (several systems): the least loaded per live replica
        return min(live, key=lambda i: (driver.waiting(i) + driver.running(i)) / max(1, len(pools[i].pool.all_replicas())))

    async def body_of(request: Request) -> dict[str, Any]:
        return protocol.parse_body(await request.body())

    async def completions(request: Request, kind: str) -> Response:
        auth(request)
        body = await body_of(request)
        ask = protocol.parse(kind, body)
        i = choose_pool(ask.model)
        lp = pools[i]
        limit = lp.max_request_tokens()
        p = len(ask.prompt_ids)
        param = "messages" if kind == "chat" else "prompt"
        if p + (ask.max_tokens or 1) > limit:
            raise bad(f"This model's maximum context length is {limit} tokens. However, you requested {p + (ask.max_tokens or 1)} "
                      f"tokens ({p} in the {param}, {ask.max_tokens or 1} in the completion). Please reduce the length of the "
                      f"{param} or completion.", param=param, code="context_length_exceeded")
        if cfg.max_waiting and driver.waiting(i) >= cfg.max_waiting:
            metrics.rejected.labels(lp.model_id, lp.name, "429").inc()
            raise APIError(429, f"too many requests waiting for `{lp.model_id}` ({driver.waiting(i)}); retry later", "requests",
                           None, "rate_limit_exceeded", headers={"Retry-After": str(_retry_after(driver, i, cfg.speedup))})
        plan = protocol.plan_output(ask, lp.model_id, lp.spec.osl, limit - p)
        stream = driver.submit(i, p, plan.output_tokens, protocol.prefix_hashes(ask.prompt_ids, PREFIX_BLOCK_TOKENS))
        rid = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{next(ids):x}"
        if ask.stream:
            return StreamingResponse(_sse(request, driver, metrics, lp, stream, plan, ask, rid, kind, body["model"]),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        watcher = asyncio.get_running_loop().create_task(_abort_on_disconnect(request, driver, stream))
        try:
            while not stream.finished:
                await stream.wait()
        finally:
            watcher.cancel()
            if not stream.finished:  # the handler itself was cancelled (server shutdown)
                driver.abort(stream)
        if stream.aborted:
            return Response(status_code=499)  # nginx's "client closed request"; nobody is there to read it
        if stream.error is not None:
            raise APIError(500, f"The server had an error while processing your request: {stream.error}", "server_error", None,
                           "engine_error")
        metrics.finished_reason(lp, plan.finish_reason)
        text = "".join(plan.pieces)
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": plan.finish_reason}
        if kind == "chat":
            choice["message"] = {"role": "assistant", "content": text}
        else:
            choice["text"] = text
        return JSONResponse({"id": rid, "object": "chat.completion" if kind == "chat" else "text_completion", "created": int(time.time()),
                             "model": body["model"], "choices": [choice], "usage": _usage(stream, plan)})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await completions(request, "chat")

    @app.post("/v1/completions")
    async def text_completions(request: Request) -> Response:
        return await completions(request, "completion")

    @app.get("/v1/models")
    async def models(request: Request) -> JSONResponse:
        auth(request)
        data = []
        for lp in pools:
            if any(d["id"] == lp.model_id for d in data):
                continue
            data.append({"id": lp.model_id, "object": "model", "created": created, "owned_by": "gigafactory",
                         "root": lp.model_id, "parent": None, "max_model_len": lp.max_request_tokens()})
        return JSONResponse({"object": "list", "data": data})

    @app.get("/health")
    async def health() -> Response:
        ok = all(driver.available(i) for i in range(len(pools)))
        return Response(status_code=200 if ok else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        driver._advance()  # gauges at this instant
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/admin/state")
    async def state(request: Request) -> JSONResponse:
        auth(request)
        return JSONResponse(_state(driver))

    @app.post("/admin/faults")
    async def faults(request: Request) -> JSONResponse:
        """{"pool": name (optional with one pool), "replica": i, "action": "fail" | "slow" | "recover", "factor": x}"""
        auth(request)
        body = await body_of(request)
        pi = _pool_index(pools, body.get("pool"))
        reps = driver.all_replicas(pi)
        r = body.get("replica", 0)
        if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < len(reps):
            raise bad(f"'replica' must be an integer in [0, {len(reps) - 1}]", param="replica")
        action = body.get("action")
        if action == "fail":
            lost = driver.fail(pi, r, f"replica {r} of pool {pools[pi].name} failed (injected fault)")
            return JSONResponse({"pool": pools[pi].name, "replica": r, "action": action, "requests_lost": lost})
        if action == "slow":
            f = body.get("factor")
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not math.isfinite(f) or not 0 < f <= 1000:
                raise bad("'factor' must be a number in (0, 1000]: how many times slower each step runs", param="factor")
            driver.slow(pi, r, float(f))
        elif action == "recover":
            driver.recover(pi, r)
        else:
            raise bad("'action' must be one of fail, slow, recover", param="action")
        return JSONResponse({"pool": pools[pi].name, "replica": r, "action": action})

    return app


def _model_names(pools: list[LivePool], extra: dict[str, list[int]]) -> dict[str, list[int]]:
    """Names a request's ``model`` may use: the catalog id, the pool name, the Hugging Face id."""
    from gigafactory.catalog import load_catalog

    cat = load_catalog()
    names: dict[str, list[int]] = {}
    for i, lp in enumerate(pools):
        hf = getattr(cat.model(lp.model_id), "hf_id", None)
        for n in {lp.model_id, lp.name, hf}:
            if n:
                names.setdefault(n, []).append(i)
    for n, idx in extra.items():
        names.setdefault(n, []).extend(idx)
    return names


def _pool_index(pools: list[LivePool], name: Any) -> int:
    if name is None and len(pools) == 1:
        return 0
    for i, lp in enumerate(pools):
        if name in (lp.name, lp.model_id):
            return i
    raise bad("'pool' must name a pool: " + ", ".join(lp.name for lp in pools), param="pool")


def _retry_after(driver: Driver, i: int, speedup: float) -> int:
    """Seconds until about the queue's worth of requests has started: waiting / running x the
    mean time a running request takes (simulated), in wall seconds; at least 1."""
    lp = driver.pools[i]
    req = lp.sim.req
    n = min(len(req.finish), 200)
    recent = [req.finish[j] - req.arrival[j] for j in range(len(req.finish) - n, len(req.finish)) if req.finish[j] == req.finish[j]]
    mean = sum(recent) / len(recent) if recent else 1.0
    run = max(1, driver.running(i))
    return max(1, math.ceil(driver.waiting(i) / run * mean / speedup))


async def _abort_on_disconnect(request: Request, driver: Driver, s: Stream) -> None:
    """Abort ``s``'s request in the engine when its client disconnects.  The body has been read, so
    the server's ``receive`` only answers ``http.disconnect``: when the connection drops (or once
    the response is complete, but this task is cancelled before that)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    driver.abort(s)


def _usage(s: Stream, plan: protocol.Plan) -> dict[str, Any]:
    u: dict[str, Any] = {"prompt_tokens": s.prompt_tokens, "completion_tokens": plan.output_tokens,
                         "total_tokens": s.prompt_tokens + plan.output_tokens}
    if s.cached_tokens:
        u["prompt_tokens_details"] = {"cached_tokens": s.cached_tokens}
    return u


def _state(driver: Driver) -> dict[str, Any]:
    out = []
    for i, lp in enumerate(driver.pools):
        reps = driver.all_replicas(i)
        out.append({"pool": lp.name, "model": lp.model_id, "mode": lp.spec.mode, "layout": lp.info["layout"],
                    "max_model_len": lp.max_request_tokens(), "waiting": driver.waiting(i), "running": driver.running(i),
                    "aborted": lp.sim.aborted,
                    "replicas": [{"index": j, "role": r.role, "up": j not in driver.down[i], "running": r.running(),
                                  "waiting": len(r.waiting), "kv_used_fraction": (r.kv_used() / r.cap) if 0 < r.cap < math.inf else 0.0,
                                  "slowed": type(r.cost).__name__ == "SlowedCost"} for j, r in enumerate(reps)]})
    return {"simulated_time_s": driver.now, "speedup": driver.speedup, "pools": out}


async def _sse(request: Request, driver: Driver, metrics: EmulatorMetrics, lp: LivePool, s: Stream, plan: protocol.Plan,
               ask: protocol.Ask, rid: str, kind: str, model: str) -> AsyncIterator[bytes]:
    created = int(time.time())
    chat = kind == "chat"
    obj = "chat.completion.chunk" if chat else "text_completion"

    def chunk(piece: str | None, finish: str | None = None, role: bool = False) -> bytes:
        if chat:
            delta: dict[str, Any] = {}
            if role:
                delta["role"] = "assistant"
            if piece is not None:
                delta["content"] = piece
            c: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        else:
            c = {"index": 0, "text": piece or "", "logprobs": None, "finish_reason": finish}
        return b"data: " + json.dumps({"id": rid, "object": obj, "created": created, "model": model, "choices": [c]},
                                      separators=(",", ":")).encode() + b"\n\n"

    sent = 0
    # Starlette also cancels this generator on a disconnect (ASGI spec < 2.4); the watcher covers a
    # request that is still queued under a server that only notices on a failed write (spec 2.4)
    watcher = asyncio.get_running_loop().create_task(_abort_on_disconnect(request, driver, s))
    try:
        if chat:
            yield chunk("", role=True)
        while True:
            await s.wait()
            if s.aborted:
                return
            if s.error is not None:
                err = APIError(500, f"The server had an error while processing your request: {s.error}", "server_error", None, "engine_error")
                yield b"data: " + json.dumps(err.body()).encode() + b"\n\n"
                return
            n = min(s.done, plan.output_tokens)
            if n > sent:
                yield b"".join(chunk(plan.pieces[j]) for j in range(sent, n))  # tokens of one engine step, one write
                sent = n
            if s.finished and sent >= plan.output_tokens:
                break
        metrics.finished_reason(lp, plan.finish_reason)
        yield chunk(None if chat else "", finish=plan.finish_reason)
        if ask.include_usage:
            yield b"data: " + json.dumps({"id": rid, "object": obj, "created": created, "model": model, "choices": [],
                                          "usage": _usage(s, plan)}, separators=(",", ":")).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
    finally:
        watcher.cancel()
        if not s.finished:  # the client went away (the generator was cancelled or closed)
            driver.abort(s)
