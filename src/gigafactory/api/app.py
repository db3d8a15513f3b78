"""The FastAPI application: REST API under /api, the web application at /.

Routes parse, call the pipeline's entry points and the run store, and format; they hold no
domain logic.  Bad input of any kind is a 422 carrying named problems in the shape of
`gigafactory check --json` (``{"valid": false, "problems": [{message, file, line, field,
value, expected, fix, check}]}``); a missing or unknown key is a 401; another user's job or
run is a 404.
"""
# no `from __future__ import annotations`: FastAPI reads the routes' annotations, some of them local (User)

import asyncio
import contextlib
import json
import os
import secrets
import time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from gigafactory import __version__
from gigafactory.api import runs as apiruns
from gigafactory.api import scenarios
from gigafactory.api import sweeps as apisweeps
from gigafactory.api.auth import ENV_KEYS_FILE, Keys, load_keys
from gigafactory.api.jobs import TERMINAL, JobManager
from gigafactory.errors import InputError, Problem

#: the largest request body accepted [bytes]
MAX_BODY_BYTES = 2_000_000
#: how long a report link stays valid [s]
REPORT_LINK_TTL_S = 600.0
UI_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
          "connect-src 'self'; frame-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'")


# --------------------------------------------------------------------------- request bodies

class ScenarioIn(BaseModel):
    """A scenario as YAML text or as a JSON object (give one)."""

    model_config = ConfigDict(extra="forbid")
    yaml: str | None = Field(None, max_length=scenarios.MAX_SCENARIO_BYTES, description="The scenario file's YAML text.")
    scenario: dict[str, Any] | None = Field(None, description="The scenario as a JSON object (the YAML's structure).")


class JobOptions(BaseModel):
    """What `gigafactory plan` / `simulate` / `sweep run` take as flags (docs/ui.md)."""

    model_config = ConfigDict(extra="forbid")
    samples: int = Field(10_000, ge=0, le=1_000_000, description="Economics Monte Carlo samples (plan --samples).")
    exact: bool = Field(False, description="Solve the rollout base plan with CP-SAT (plan --exact).")
    no_cache: bool = Field(False, description="Recompute every stage instead of using the stage cache.")
    trace: str | None = Field(None, max_length=200, description="Bundled trace name, poisson, diurnal or gamma-cv<X> (simulate --trace).")
    rate_rps: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False, description="Whole-fleet arrival rate [requests/s].")
    duration_s: float | None = Field(None, gt=0, le=7 * 86_400, allow_inf_nan=False, description="Simulated arrival time [s].")
    router: str | None = Field(None, max_length=64, description="round-robin, least-outstanding, prefix-aware or central-queue.")
    target_ci: float = Field(0.1, gt=0, le=1, allow_inf_nan=False, description="Simulation run size: relative half-width of p99 TTFT's 95 % interval.")
    workers: int = Field(1, ge=1, le=4096, description="Sweep jobs: CPUs of the job's local Ray (sweep run --workers), at most the server's CPUs.")


#: options only plan / simulate jobs take (a sweep's run options are in its spec's `options:`; `workers` is the sweep's own)
_RUN_ONLY = ("samples", "exact", "trace", "rate_rps", "duration_s", "router", "target_ci")


class JobIn(ScenarioIn):
    kind: Literal["plan", "simulate", "sweep"] = Field("plan", description="plan: the main job (a run in the store); simulate: the serving "
                                                                           "simulation; sweep: a sweep spec on a local Ray (docs/sweeps.md).")
    options: JobOptions = Field(default_factory=JobOptions)
    sweep: str | dict[str, Any] | None = Field(None, description="Sweep jobs: the sweep spec, as YAML text or a JSON object. Its base scenario is "
                                                                 "the bundled default, or the yaml/scenario given beside it (never a file on the server).")


# --------------------------------------------------------------------------- helpers

def _problems_body(problems: list[Problem], file: str | None = None) -> dict[str, Any]:
    return {"valid": False, "file": file, "problems": [p.as_dict() for p in problems]}


def _request_problems(exc: RequestValidationError) -> list[Problem]:
    out = []
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ()) if x not in ("body",)]
        field = ".".join(loc) or "body"
        value = e.get("input")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = repr(value)[:200]
        if isinstance(value, (dict, list)) and len(json.dumps(value)) > 500:
            value = json.dumps(value)[:200] + "..."
        msg = str(e.get("msg", "invalid value"))
        out.append(Problem(msg, field=field, value=value, expected=msg.replace("Input should be ", "").replace("Value error, ", ""),
                           fix=f"correct {field} (see /openapi.json or docs/ui.md)", check="request"))
    return out


@lru_cache(maxsize=1)
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


def _static_dir() -> Path:
    return Path(str(resources.files("gigafactory.webui") / "static"))


def _options_for(kind: str, o: JobOptions) -> dict[str, Any]:
    """JobOptions → RunOptions fields, refusing trace files and unknown routers with named problems."""
    from gigafactory.checks import is_trace_file_name
    from gigafactory.pipeline.options import run_options
    from gigafactory.simulate.router import ROUTERS

    problems = []
    if o.trace is not None and is_trace_file_name(o.trace):
        problems.append(scenarios.trace_option_problem(o.trace, "options.trace"))
    if o.router is not None and o.router not in ROUTERS:
        problems.append(Problem(f"unknown router '{o.router}'", field="options.router", value=o.router, expected=f"one of {', '.join(ROUTERS)}",
                                fix="choose one of the listed routers", check="run-options"))
    if problems:
        raise InputError(problems)
    flags = {"economics_samples": "options.samples", "rollout_exact": "options.exact", "trace": "options.trace", "rate_rps": "options.rate_rps",
             "duration_s": "options.duration_s", "router": "options.router", "sim_target_ci": "options.target_ci"}
    values: dict[str, Any] = dict(trace=o.trace, rate_rps=o.rate_rps, duration_s=o.duration_s, router=o.router, sim_target_ci=o.target_ci, sim_workers=1)
    if kind == "plan":
        values.update(economics_samples=o.samples, rollout_exact=o.exact)
    return run_options(flags, **values).model_dump(mode="json")


def _check_option_kinds(body: JobIn) -> None:
    """Options and fields that do not apply to the job's kind are named, not silently ignored."""
    given = body.options.model_fields_set
    problems = []
    if body.kind == "sweep":
        problems += [Problem(f"options.{k} applies to plan and simulate jobs", field=f"options.{k}", value=getattr(body.options, k),
                             fix="give a sweep's run options in its spec (options: {economics_samples: ...}, docs/sweeps.md)", check="run-options")
                     for k in _RUN_ONLY if k in given]
        if body.options.workers > apisweeps.max_workers():
            problems.append(Problem(f"options.workers is {body.options.workers}; this server has {apisweeps.max_workers()} CPUs", field="options.workers",
                                    value=body.options.workers, expected=f"1 to {apisweeps.max_workers()}", fix="ask for fewer workers", check="run-options"))
        if body.sweep is None:
            problems.append(Problem("a sweep job needs its spec", field="sweep", expected='"sweep": "<YAML text>" or {...}',
                                    fix="send the sweep spec (docs/sweeps.md) as YAML text or as a JSON object", check="request"))
    else:
        if "workers" in given:
            problems.append(Problem("options.workers applies to sweep jobs", field="options.workers", value=body.options.workers,
                                    fix="drop it", check="run-options"))
        if body.sweep is not None:
            problems.append(Problem(f"a {body.kind} job takes a scenario, not a sweep spec", field="sweep", fix='send "kind": "sweep", or drop "sweep"',
                                    check="request"))
    if problems:
        raise InputError(problems)


# --------------------------------------------------------------------------- the application

def create_app(store: str | Path | None = None, keys: Keys | None = None, max_parallel: int = 1) -> FastAPI:
    """The application over the run store ``store`` (default: the CLI's), jobs in ``<its folder>/api.sqlite``.

    ``keys``: who may call; when None, the file named by $GIGAFACTORY_API_KEYS (an InputError when neither is given).
    """
    from gigafactory.runs.store import preflight_store, store_path

    if keys is None:
        path = os.environ.get(ENV_KEYS_FILE)
        if not path:
            raise InputError.single("no API keys are configured", field="--keys",
                                    fix=f"give --keys FILE or set {ENV_KEYS_FILE}=FILE (one `user: key` line per user; docs/ui.md)")
        keys = load_keys(path)
    store_p = preflight_store(store_path(store))
    jobs = JobManager(store_p, max_parallel=max_parallel)
    _warm_up()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        await asyncio.to_thread(jobs.shutdown)

    # docs_url/redoc_url off: their pages load scripts from a CDN, and nothing here may
    app = FastAPI(title="gigafactory", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="REST API of the gigafactory digital twin: validate scenarios, run plan and simulate jobs, "
                              "read, compare and delete runs; run sweeps and read their results. Auth: `Authorization: Bearer <key>` or `X-API-Key: <key>` (docs/ui.md).")
    app.state.jobs = jobs
    app.state.keys = keys
    links: dict[str, tuple[str, str, float]] = {}
    sweep_links: dict[str, tuple[str, str, float]] = {}  # token -> (user, sweep job id, expiry)

    bearer = HTTPBearer(auto_error=False, description="API key as a bearer token")
    api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key")

    def current_user(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
                     key: Annotated[str | None, Depends(api_key)]) -> str:
        user = keys.user(cred.credentials if cred else key)
        if user is None:
            raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key> or X-API-Key: <key>)",
                                headers={"WWW-Authenticate": "Bearer"})
        return user

    User = Annotated[str, Depends(current_user)]

    # ---- errors: client input is never a 5xx

    @app.exception_handler(InputError)
    async def _input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(_problems_body(exc.problems, next((p.file for p in exc.problems if p.file), None)), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_problems_body(_request_problems(exc)), status_code=422)

    @app.exception_handler(apiruns.NotFound)
    async def _not_found(_request: Request, exc: apiruns.NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"no run '{exc.args[0]}'"}, status_code=404)

    @app.middleware("http")
    async def _limits(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse({"detail": f"the request body is larger than {MAX_BODY_BYTES // 1_000_000} MB"}, status_code=413)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    # ---- service

    @app.get("/api/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness, without a key."""
        return {"ok": True, "version": __version__}

    @app.get("/api/me", tags=["service"])
    def me(user: User) -> dict[str, Any]:
        """Who the key belongs to."""
        return {"user": user}

    # ---- scenarios

    @app.get("/api/scenario/schema", tags=["scenario"])
    def scenario_schema(user: User) -> dict[str, Any]:
        """The scenario's JSON schema (the pydantic model the loader validates against); the editor's form is built from it."""
        return _scenario_schema()

    @app.get("/api/scenario/default", tags=["scenario"])
    def scenario_default(user: User) -> dict[str, Any]:
        """The bundled default scenario: its YAML text and the same as a JSON object."""
        from gigafactory.scenario import default_scenario_path

        text = default_scenario_path().read_text(encoding="utf-8")
        return {"yaml": text, "scenario": scenarios.raw_data(text)}

    @app.get("/api/catalog/choices", tags=["scenario"])
    def catalog_choices(user: User) -> dict[str, list[str]]:
        """Catalog ids a scenario may name (regions, systems, models, cost profiles, cooling technologies)."""
        return _choices()

    @app.post("/api/validate", tags=["scenario"], responses={422: {"description": "invalid scenario: named problems"}})
    def validate(body: ScenarioIn, user: User) -> JSONResponse:
        """Validate a scenario as `gigafactory check --json` does: 200 with its summary when valid, 422 with the problems when not.

        Both answers also carry ``input``: the YAML text checked (a JSON object is written out as YAML, and the
        problems' lines refer to that text) and the document as JSON, for the editor's two views.
        """
        text = scenarios.to_text(body.yaml, body.scenario)
        valid, out = scenarios.check_json(text)
        return JSONResponse(out, status_code=200 if valid else 422)

    # ---- jobs

    @app.post("/api/jobs", tags=["jobs"], status_code=202, responses={422: {"description": "invalid scenario or options: named problems"}})
    def create_job(body: JobIn, user: User) -> dict[str, Any]:
        """Start a plan or simulate job in the background (checked first: a bad scenario is a 422, no job).

        Follow it with GET /api/jobs/{id}/events (server-sent events); it goes on if the client disconnects.
        """
        _check_option_kinds(body)
        if body.kind == "sweep":
            base = None if body.yaml is None and body.scenario is None else scenarios.to_text(body.yaml, body.scenario)
            checked_sweep = apisweeps.check_sweep(apisweeps.spec_text(body.sweep), base)
            return jobs.submit(user, "sweep", base, checked_sweep.sweep.spec.name, {"workers": body.options.workers}, no_cache=body.options.no_cache,
                               extra={"sweep_text": checked_sweep.text},
                               detail={"points": {"done": 0, "total": checked_sweep.points, "failed": 0}})
        text = scenarios.to_text(body.yaml, body.scenario)
        checked = scenarios.check(text)
        options = _options_for(body.kind, body.options)
        return jobs.submit(user, body.kind, text, checked.scenario.name, options, no_cache=body.options.no_cache)

    @app.get("/api/jobs", tags=["jobs"])
    def list_jobs(user: User) -> list[dict[str, Any]]:
        """The caller's jobs, newest first."""
        return jobs.list(user)

    def _job(job_id: str, user: str) -> dict[str, Any]:
        job = jobs.get(job_id, user)
        if job is None:
            raise HTTPException(404, f"no job '{job_id}'")
        return job

    @app.get("/api/jobs/{job_id}", tags=["jobs"])
    def get_job(job_id: str, user: User) -> dict[str, Any]:
        """A job's state and progress by stage."""
        return _job(job_id, user)

    @app.post("/api/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel_job(job_id: str, user: User) -> dict[str, Any]:
        """Cancel a queued or running job; it ends 'cancelled' with no run and no output folder."""
        job = jobs.cancel(job_id, user)
        if job is None:
            raise HTTPException(404, f"no job '{job_id}'")
        return job

    @app.get("/api/jobs/{job_id}/result", tags=["jobs"])
    def job_result(job_id: str, user: User) -> Any:
        """A finished simulate job's result (the simulation stage's JSON); for a plan, its run id."""
        job = _job(job_id, user)
        if job["state"] != "done":
            raise HTTPException(409, f"the job is {job['state']}, not done")
        if job["kind"] == "plan":
            return {"run_id": job["run_id"]}
        if job["kind"] == "sweep":
            return {"sweep_id": job["sweep_id"]}
        row = jobs.row(job_id)
        p = Path(row["out_dir"]) / "simulation.json"  # type: ignore[index]
        if not p.is_file():
            raise HTTPException(404, "the simulation result is no longer there")
        return Response(p.read_bytes(), media_type="application/json")

    def _sweep_folder(job_id: str, user: str) -> Path:
        job = _job(job_id, user)
        if job["kind"] != "sweep":
            raise HTTPException(404, f"job '{job_id}' is a {job['kind']} job, not a sweep")
        if job["state"] != "done":
            raise HTTPException(409, f"the job is {job['state']}, not done")
        return Path(jobs.row(job_id)["out_dir"])  # type: ignore[index]

    @app.get("/api/jobs/{job_id}/sweep", tags=["jobs"])
    def job_sweep(job_id: str, user: User) -> JSONResponse:
        """A finished sweep job's results table (one row per point, every column, via DuckDB) with its counts and Pareto points."""
        folder = _sweep_folder(job_id, user)
        try:
            body = apisweeps.results(folder)
        except FileNotFoundError:
            raise HTTPException(404, "the sweep's results are no longer in its folder") from None
        return JSONResponse({"sweep_id": _job(job_id, user)["sweep_id"], **body})

    @app.get("/api/jobs/{job_id}/sweep/report", tags=["jobs"], response_class=HTMLResponse)
    def job_sweep_report(job_id: str, user: User) -> Response:
        """A finished sweep job's self-contained analysis page (report.html)."""
        p = _sweep_folder(job_id, user) / "report.html"
        if not p.is_file():
            raise HTTPException(404, "the sweep's report.html is no longer in its folder")
        return _report_response(p)

    @app.post("/api/jobs/{job_id}/sweep/report-link", tags=["jobs"])
    def job_sweep_report_link(job_id: str, user: User) -> dict[str, Any]:
        """A short-lived URL of a finished sweep's analysis page that needs no header (for a browser frame or tab)."""
        if not (_sweep_folder(job_id, user) / "report.html").is_file():
            raise HTTPException(404, "the sweep's report.html is no longer in its folder")
        return {"url": f"/reports/sweep/{_new_link(sweep_links, user, job_id)}", "expires_in_s": REPORT_LINK_TTL_S}

    @app.get("/reports/sweep/{token}", tags=["jobs"], response_class=HTMLResponse)
    def sweep_report_by_link(token: str) -> Response:
        """A sweep's analysis page by the link from POST /api/jobs/{id}/sweep/report-link."""
        user, job_id = _link_target(sweep_links, token)
        p = _sweep_folder(job_id, user) / "report.html"
        if not p.is_file():
            raise HTTPException(404, "the sweep's report.html is no longer in its folder")
        return _report_response(p)

    @app.get("/api/jobs/{job_id}/events", tags=["jobs"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events: `state` and `progress`, each with the job"}})
    async def job_events(job_id: str, request: Request, user: User,
                         last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None) -> StreamingResponse:
        """Server-sent events of a job: ``progress`` as each stage begins, ``state`` on each change; ends when the job ends."""
        job = await asyncio.to_thread(_job, job_id, user)
        try:
            start = int(last_event_id) + 1 if last_event_id else 0
        except ValueError:
            start = 0

        async def stream():
            seq = max(0, start)
            if not jobs.is_live(job_id):
                yield f"event: state\ndata: {json.dumps(job)}\n\n"
                return
            quiet = 0.0
            while True:
                events = jobs.events_since(job_id, seq)
                for e in events:
                    seq = e["seq"] + 1
                    yield f"id: {e['seq']}\nevent: {e['type']}\ndata: {json.dumps(e['job'])}\n\n"
                if events:
                    quiet = 0.0
                log = jobs.events_since(job_id, 0)
                if seq >= len(log) and log and log[-1]["type"] == "state" and log[-1]["job"]["state"] in TERMINAL:
                    return  # everything sent (or the client had it already) and the job has ended
                if await request.is_disconnected():
                    return  # the job goes on
                await asyncio.sleep(0.2)
                quiet += 0.2
                if quiet >= 15:
                    quiet = 0.0
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ---- runs

    @app.get("/api/runs", tags=["runs"])
    def list_runs(user: User, q: Annotated[str | None, Query(max_length=200, description="Keep runs whose id, scenario name or date contains this")] = None) -> list[dict[str, Any]]:
        """The caller's runs, newest first, with their headline figures."""
        return apiruns.list_for(jobs, user, q)

    @app.get("/api/runs/{run_id}", tags=["runs"])
    def get_run(run_id: str, user: User) -> dict[str, Any]:
        """One run: record, headline figures (with the report's labels and texts), its scenario and stored result."""
        run = apiruns.find(jobs, user, run_id)
        full = apiruns.full_result(run)
        return {"id": run["id"], "created": run["created"], "scenario_name": run["scenario_name"], "seed": run["seed"],
                "catalog_version": run["catalog_version"], "headline": run["headline"],
                "headlines": apiruns.headlines(full or run["result"]), "has_report": apiruns.report_path(run) is not None,
                "scenario": run["scenario"], "result": run["result"]}

    @app.delete("/api/runs/{run_id}", tags=["runs"], status_code=204)
    def delete_run(run_id: str, user: User) -> Response:
        """Delete a run's record (and the output folder the API wrote for it)."""
        apiruns.delete(jobs, user, run_id)
        return Response(status_code=204)

    @app.get("/api/runs/{run_id}/figures", tags=["runs"])
    def run_figures(run_id: str, user: User) -> dict[str, Any]:
        """The run's key figures as plotly JSON (the report's own figures: rollout, Pareto frontier, cash, Monte Carlo)."""
        run = apiruns.find(jobs, user, run_id)
        full = apiruns.full_result(run)
        if full is None:
            raise HTTPException(404, "the run's result.json is no longer in its output folder")
        return apiruns.figures(full)

    @app.get("/api/runs/{run_id}/report", tags=["runs"], response_class=HTMLResponse)
    def run_report(run_id: str, user: User) -> Response:
        """The run's self-contained report.html."""
        run = apiruns.find(jobs, user, run_id)
        p = apiruns.report_path(run)
        if p is None:
            raise HTTPException(404, "the run's report.html is no longer in its output folder")
        return _report_response(p)

    @app.post("/api/runs/{run_id}/report-link", tags=["runs"])
    def run_report_link(run_id: str, user: User) -> dict[str, Any]:
        """A short-lived URL of the report that needs no header (for a browser frame or tab)."""
        run = apiruns.find(jobs, user, run_id)
        if apiruns.report_path(run) is None:
            raise HTTPException(404, "the run's report.html is no longer in its output folder")
        return {"url": f"/reports/{_new_link(links, user, run['id'])}", "expires_in_s": REPORT_LINK_TTL_S}

    @app.get("/reports/{token}", tags=["runs"], response_class=HTMLResponse)
    def report_by_link(token: str) -> Response:
        """A report by the link from POST /api/runs/{id}/report-link."""
        run = apiruns.find(jobs, *_link_target(links, token))
        p = apiruns.report_path(run)
        if p is None:
            raise HTTPException(404, "the run's report.html is no longer in its output folder")
        return _report_response(p)

    @app.get("/api/compare", tags=["runs"])
    def compare(user: User, ids: Annotated[list[str], Query(min_length=2, max_length=12, description="Two or more run ids; the first is the baseline")]) -> dict[str, Any]:
        """Runs side by side: which inputs differ from the first run, and how each headline figure moved (relative change)."""
        if len(set(ids)) != len(ids):
            raise InputError.single("a run is named twice", field="ids", value=ids, fix="name each run once", check="request")
        return apiruns.compare_many(jobs, user, ids)

    # ---- the web application

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(_static_dir() / "index.html", media_type="text/html", headers={"Content-Security-Policy": UI_CSP, "Cache-Control": "no-cache"})

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        files = {p.name: p for p in _static_dir().iterdir() if p.is_file()}
        if name not in files:
            raise HTTPException(404, "no such file")
        kind = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}.get(files[name].suffix, "application/octet-stream")
        return FileResponse(files[name], media_type=kind, headers={"Cache-Control": "no-cache"})

    return app


def _new_link(table: dict[str, tuple[str, str, float]], user: str, ident: str) -> str:
    """A fresh token for ``user``'s run or sweep ``ident`` in ``table`` (expired ones dropped)."""
    now = time.monotonic()
    for t in [t for t, (_u, _i, exp) in table.items() if exp < now]:
        table.pop(t, None)
    token = secrets.token_urlsafe(24)
    table[token] = (user, ident, now + REPORT_LINK_TTL_S)
    return token


def _link_target(table: dict[str, tuple[str, str, float]], token: str) -> tuple[str, str]:
    """(user, run or sweep id) of a live token, else 404."""
    hit = table.get(token)
    if hit is None or hit[2] < time.monotonic():
        raise HTTPException(404, "unknown or expired report link")
    return hit[0], hit[1]


def _report_response(p: Path) -> Response:
    from gigafactory.report.html import CSP

    return FileResponse(p, media_type="text/html", headers={"Content-Security-Policy": CSP})


@lru_cache(maxsize=1)
def _scenario_schema() -> dict[str, Any]:
    from gigafactory.scenario.model import Scenario

    return Scenario.model_json_schema()


@lru_cache(maxsize=1)
def _choices() -> dict[str, list[str]]:
    from gigafactory.catalog import load_catalog

    cat = load_catalog()
    cooling = [i for i, e in cat.kind("facility").items() if getattr(e, "category", None) == "cooling_technology"]
    return {"regions": list(cat.kind("regions")), "systems": list(cat.kind("systems")), "models": list(cat.kind("models")),
            "cost_profiles": list(cat.kind("costs")), "cooling": cooling}


def _warm_up() -> None:
    """Load the catalog and check the default scenario once, so the first request is as fast as the rest."""
    from gigafactory.scenario import default_scenario_path

    scenarios.check_json(default_scenario_path().read_text(encoding="utf-8"))
    _scenario_schema()
