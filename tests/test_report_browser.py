"""The plan report in a real headless browser (Debian's Chromium driven by Playwright).

The page must render every figure with no console error and without a single request that
is not file:// (the report is meant to open offline).  The browser is the system's
/usr/bin/chromium (Debian package ``chromium``), never a browser build downloaded by Playwright.
When it is missing and the tests run as root on Debian (the project's machines and CI), the test
installs it with apt-get itself, so the README's `pytest` needs no other step; elsewhere it fails
and says how to install it, unless GIGAFACTORY_SKIP_BROWSER=1.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from gigafactory.plan import run_plan
from gigafactory.report.figures import FIGURE_IDS
from gigafactory.report.html import render_report
from gigafactory.scenario import default_scenario_path, parse_scenario_text

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
INSTALL_HINT = ("Debian's Chromium is needed at /usr/bin/chromium for the browser test: install it with "
                "`sudo apt-get install -y chromium` (and `pip install -e '.[test]'` for Playwright), "
                "or set GIGAFACTORY_SKIP_BROWSER=1 to skip this test.")
SCREENSHOT_COPY = Path("/tmp/gf-report.png")


def _install_chromium() -> str | None:
    """apt-get install chromium, as root on Debian; returns why it could not, or None."""
    import subprocess

    if not shutil.which("apt-get"):
        return "apt-get is not available (not Debian)"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not running as root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
        if done.returncode != 0:
            return f"`{' '.join(cmd)}` failed: {done.stderr.strip()[-300:]}"
    return None if CHROMIUM.exists() else "chromium installed but /usr/bin/chromium is still missing"


def _browser_or_fail():
    if os.environ.get("GIGAFACTORY_SKIP_BROWSER") == "1":
        pytest.skip("GIGAFACTORY_SKIP_BROWSER=1: headless-browser test of the report skipped")
    if not CHROMIUM.exists():
        why = _install_chromium()
        if why:
            pytest.fail(f"{CHROMIUM} is missing and could not be installed ({why}). {INSTALL_HINT}", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.fail(f"playwright is not installed. {INSTALL_HINT}", pytrace=False)
    return sync_playwright


@pytest.fixture(scope="module")
def report_file(catalog, tmp_path_factory):
    data = yaml.safe_load(default_scenario_path().read_text())
    data["sites"] = [{"name": "one", "region": "us-virginia", "facility_power_mw": 60.0}]
    text = yaml.safe_dump(data)
    scn = parse_scenario_text(text, "report-browser.yaml", catalog)
    result = run_plan(catalog, scn, text, None, economics_samples=500, rollout_samples=100)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    return path


def test_report_renders_offline_in_chromium(report_file, tmp_path):
    sync_playwright = _browser_or_fail()
    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url) if not req.url.startswith("file://") else None)
            page.goto(report_file.as_uri(), wait_until="load")
            for fig_id in FIGURE_IDS:
                page.wait_for_selector(f"#{fig_id}.js-plotly-plot .main-svg", state="attached", timeout=30_000)
            rendered = page.evaluate(
                "ids => ids.filter(id => { const d = document.getElementById(id);"
                " return d && d.classList.contains('js-plotly-plot') && d.querySelector('.main-svg') !== null; })", FIGURE_IDS)
            summary = page.evaluate("JSON.parse(document.getElementById('gf-summary').textContent)")
            page.wait_for_timeout(300)
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    try:
        shutil.copyfile(shot, SCREENSHOT_COPY)
    except OSError:  # pragma: no cover - /tmp not writable: the tmp_path copy is enough
        pass
    assert console_errors == [], f"console errors: {console_errors}"
    assert page_errors == [], f"page errors: {page_errors}"
    assert requests == [], f"the report made network requests: {requests}"
    assert rendered == FIGURE_IDS
    assert summary["sites"] == ["one"] and summary["headlines"]
    assert shot.stat().st_size > 10_000


def test_missing_chromium_fails_with_install_hint(monkeypatch, tmp_path):
    monkeypatch.delenv("GIGAFACTORY_SKIP_BROWSER", raising=False)
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        _browser_or_fail()
    monkeypatch.setenv("GIGAFACTORY_SKIP_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception, match="GIGAFACTORY_SKIP_BROWSER=1"):
        _browser_or_fail()
