"""The web application end to end in a real headless Chromium (Debian's, driven by Playwright).

`gigafactory ui` is started as a user would (one command, no keys: it prints a URL carrying a
key for the user 'local'); the test opens that URL, loads the default scenario, breaks a field
and sees the problem beside it, fixes it, runs a plan (progress by stage, then the headline and
the key figures), opens the full report, runs a second plan with one price changed and compares
the two runs.  No request may leave the server (no CDN) and no script may fail.

The browser is found (or installed, or skipped with GIGAFACTORY_SKIP_BROWSER=1) exactly as in
test_report_browser.py.  Screenshots go to a temporary folder, or to the folder named by
GIGAFACTORY_UI_SCREENSHOTS (docs/img is made with `GIGAFACTORY_UI_SCREENSHOTS=docs/img`).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from test_report_browser import ARGS, CHROMIUM, _browser_or_fail  # noqa: E402  (one convention for both browser tests)

#: a guard against a hung page or job, not a timing assertion [ms]
WAIT_MS = 180_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("uihome")
    env = {k: v for k, v in os.environ.items() if k != "GIGAFACTORY_API_KEYS"}
    env["GIGAFACTORY_HOME"] = str(home)
    proc = subprocess.Popen([sys.executable, "-m", "gigafactory", "ui", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    line = proc.stdout.readline()
    m = re.search(r"open (http://\S+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"gigafactory ui printed no URL: {line!r} {proc.stderr.read()}")
    yield m.group(1)
    proc.terminate()
    proc.wait(60)
    proc.stdout.close()
    proc.stderr.close()


def _shots(tmp_path) -> Path:
    d = Path(os.environ.get("GIGAFACTORY_UI_SCREENSHOTS") or tmp_path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _field(page, path: str):
    return page.locator(f'.field[data-path="{path}"]')


def _run_plan_and_wait(page) -> str:
    page.click("#run-plan")
    page.wait_for_selector("#job-progress", timeout=WAIT_MS)
    page.wait_for_selector("#headline .card", timeout=WAIT_MS)  # the job page moves to the run when the job is done
    return page.url.split("#/run/")[1]


def _watched_page(browser, server: str, foreign: list[str], console_errors: list[str], page_errors: list[str]):
    """A context and page that record requests leaving the server, console errors (a 422 from
    the validation endpoint is the answer for an invalid input, not an error) and page errors."""
    origin = server.split("/#")[0].rstrip("/")
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.on("request", lambda r: foreign.append(r.url) if not r.url.startswith((origin, "data:", "blob:", "about:")) else None)
    page = ctx.new_page()
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" and "status of 422" not in m.text else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    return ctx, page


def test_edit_validate_run_report_compare(server, tmp_path):
    sync_playwright = _browser_or_fail()
    shots = _shots(tmp_path)
    console_errors: list[str] = []
    page_errors: list[str] = []
    foreign: list[str] = []
    origin = server.split("/#")[0].rstrip("/")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            ctx, page = _watched_page(browser, server, foreign, console_errors, page_errors)

            # 1. open the app (the URL carries the key) and load the default scenario
            page.goto(server)
            page.wait_for_selector("#validity.ok", timeout=WAIT_MS)
            page.click("#load-default")
            page.wait_for_selector("#validity.ok", timeout=WAIT_MS)
            assert _field(page, "name").locator("input").input_value() == "gigafactory-1gw-gb300"
            page.screenshot(path=str(shots / "ui-editor.png"))

            # 2. an error is flagged beside its field, with the fix; the plan cannot start
            power = _field(page, "sites[0].facility_power_mw")
            power.locator("input").fill("-5")
            page.wait_for_selector('.field.has-problem[data-path="sites[0].facility_power_mw"]', timeout=WAIT_MS)
            problem = power.locator(".problem").inner_text()
            assert "power must be positive" in problem and "fix:" in problem
            assert page.is_disabled("#run-plan")
            assert "sites[0].facility_power_mw" in page.locator("#problems").inner_text()
            power.scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "ui-editor-error.png"))

            # 3. the YAML view shows the same scenario; fix the field and it is valid again
            page.click("#tab-yaml")
            assert "facility_power_mw: -5" in page.locator("#yaml").input_value()
            page.screenshot(path=str(shots / "ui-yaml.png"))
            page.click("#tab-form")
            _field(page, "sites[0].facility_power_mw").locator("input").fill("600")
            page.wait_for_selector("#validity.ok", timeout=WAIT_MS)
            assert page.locator(".field.has-problem").count() == 0

            # 4. run a plan: progress by stage, then the headline and the key figures
            page.click("#run-plan")
            page.wait_for_selector("#job-stages li.done", timeout=WAIT_MS)
            progress = float(page.get_attribute("#job-progress", "value") or 0)
            page.screenshot(path=str(shots / "ui-job.png"))
            other = ctx.new_page()  # the app stays usable while the plan runs
            other.goto(f"{origin}/#/runs")
            other.wait_for_selector("#runs-table", timeout=WAIT_MS)
            other.close()
            page.wait_for_selector("#headline .card", timeout=WAIT_MS)
            first = page.url.split("#/run/")[1]
            assert progress > 0
            assert "Deployment TTFT" in page.locator("#headline").inner_text()
            page.wait_for_selector("#figures .plot .main-svg", timeout=WAIT_MS)
            assert page.locator("#figures .plot.js-plotly-plot").count() == 4
            page.screenshot(path=str(shots / "ui-run.png"), full_page=True)

            # 5. the full report, in a sandboxed frame
            page.click("#show-report")
            frame = page.frame_locator("#report-frame")
            frame.locator("#gf-fig-rollout .main-svg").first.wait_for(timeout=WAIT_MS)
            assert "gigafactory plan" in frame.locator("header h1").inner_text()
            page.screenshot(path=str(shots / "ui-report.png"))

            # 6. a second run with one price changed, then compare the two
            page.click("#nav-editor")
            page.wait_for_selector("#validity.ok", timeout=WAIT_MS)
            _field(page, "workloads[0].price_output_usd_per_mtok").locator("input").fill("0.9")
            page.wait_for_selector("#validity.ok", timeout=WAIT_MS)
            second = _run_plan_and_wait(page)
            page.click("#nav-runs")
            page.wait_for_selector(f'#runs-table tr[data-run-id="{second}"]', timeout=WAIT_MS)
            page.fill("#run-search", "1gw-gb300")
            page.wait_for_function("document.querySelectorAll('#runs-table tbody tr').length === 2", timeout=WAIT_MS)
            # the search's debounced reload can redraw the table (unticking the boxes) after the count above already
            # holds, so tick again until the compare button takes the selection
            for _ in range(10):
                for run_id in (first, second):
                    page.check(f'#runs-table tr[data-run-id="{run_id}"] input[type=checkbox]')
                if page.is_enabled("#compare-selected"):
                    break
                page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "ui-runs.png"))
            page.click("#compare-selected")
            page.wait_for_selector("#compare-outputs", timeout=WAIT_MS)
            inputs = page.locator("#compare-inputs").inner_text()
            assert "workloads[0].price_output_usd_per_mtok" in inputs and "0.9" in inputs
            npv = page.locator('#compare-outputs tr[data-key="npv_usd"]').inner_text()
            assert "%" in npv  # how the figure moved against the baseline
            page.screenshot(path=str(shots / "ui-compare.png"), full_page=True)
        finally:
            browser.close()
    assert page_errors == [], page_errors
    assert console_errors == [], console_errors
    assert foreign == [], f"requests that left the server: {foreign}"
    assert first != second


def test_sweep_page_runs_a_sweep_and_shows_its_points(server, tmp_path):
    """The sweeps page: a spec with a problem is refused with the problem named (no job), the
    example spec (three WACC values at the economics stage, on the bundled default) runs as a job
    with point progress, and its page shows the three points, the Pareto set and the analysis page
    in a sandboxed frame.  No script fails and nothing leaves the server."""
    sync_playwright = _browser_or_fail()
    shots = _shots(tmp_path)
    errors: list[str] = []
    foreign: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            _ctx, page = _watched_page(browser, server, foreign, errors, errors)
            page.goto(server)
            page.wait_for_selector("#validity", timeout=WAIT_MS)
            page.click("#nav-sweeps")
            page.wait_for_selector("#sweep-spec", timeout=WAIT_MS)
            example = page.locator("#sweep-spec").input_value()
            assert "finance.wacc" in example
            page.fill("#sweep-spec", example.replace("finance.wacc", "finance.wac"))
            page.click("#run-sweep")
            page.wait_for_selector("#sweep-problems li", timeout=WAIT_MS)
            assert "finance.wac" in page.locator("#sweep-problems").inner_text()
            assert "#/sweeps" in page.url  # no job was started
            page.fill("#sweep-spec", example)
            page.click("#run-sweep")
            page.wait_for_selector("#job-progress", timeout=WAIT_MS)
            # the job page names the kind (unless the job already ended and the page moved on to the sweep)
            page.wait_for_selector('#job-kind:has-text("Sweep job"), #sweep-points', timeout=WAIT_MS)
            page.wait_for_selector("#sweep-points tbody tr", timeout=WAIT_MS)  # the job page moves to the sweep when done
            assert page.locator("#sweep-points tbody tr").count() == 3
            assert "finance.wacc" in page.locator("#sweep-points thead").inner_text()
            assert page.locator("#sweep-points tr.pareto").count() >= 1
            page.screenshot(path=str(shots / "ui-sweep.png"), full_page=True)
            page.click("#show-sweep-report")
            frame = page.frame_locator("#sweep-report-frame")
            frame.locator("h1").first.wait_for(timeout=WAIT_MS)
            page.click("#nav-sweeps")
            page.wait_for_selector("#sweeps-table tbody tr", timeout=WAIT_MS)
            assert "done" in page.locator("#sweeps-table").inner_text()
        finally:
            browser.close()
    assert errors == [], errors
    assert foreign == [], f"requests that left the server: {foreign}"


def test_leaving_a_page_while_it_loads_keeps_the_new_page(server):
    """A page still loading when the user moves on must not paint over the page that replaced
    it: the editor's schema request is held until the sweeps page is shown, then released; the
    sweeps page stays, with no error page and no script error (a race the sweeps test hit under
    load: the stale editor threw on its missing form and the router showed that error)."""
    sync_playwright = _browser_or_fail()
    errors: list[str] = []
    foreign: list[str] = []
    held = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            _ctx, page = _watched_page(browser, server, foreign, errors, errors)
            page.route("**/api/scenario/schema*", lambda route: held.append(route))
            page.goto(server)
            page.wait_for_selector("#validity", timeout=WAIT_MS)
            page.click("#nav-sweeps")
            page.wait_for_selector("#sweep-spec", timeout=WAIT_MS)
            assert held, "the editor's schema request was not made"
            with page.expect_response("**/api/scenario/schema*", timeout=WAIT_MS):
                for route in held:
                    route.continue_()
            page.wait_for_timeout(1500)  # the stale editor's continuation runs on that answer
            assert page.locator("#sweep-spec").is_visible()
            assert page.locator("#page-error").count() == 0
            # back in the editor, the schema (now loaded) and the default scenario are there
            page.click("#nav-editor")
            page.wait_for_selector("#validity.ok", timeout=WAIT_MS)
        finally:
            browser.close()
    assert errors == [], errors
    assert foreign == [], f"requests that left the server: {foreign}"
