"""Schema-driven fuzz of the REST API: schemathesis generates requests from /openapi.json
(bodies, query strings, path ids, headers) and no answer may be a 5xx.

Needs schemathesis (`pip install schemathesis`, in the test extra); skipped without it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from hypothesis import HealthCheck, settings  # noqa: E402

from gigafactory.api import create_app  # noqa: E402
from gigafactory.api.auth import Keys  # noqa: E402

KEY = "fuzz-key-0123456789abcdef"


# schemathesis needs the schema when tests are collected; the app's store is a fresh folder.
_HOME = Path(tempfile.mkdtemp(prefix="gf-fuzz-"))
_APP = create_app(_HOME / "runs.sqlite", Keys.single("fuzz", KEY))
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP)


@pytest.fixture(scope="module", autouse=True)
def _home():
    old = os.environ.get("GIGAFACTORY_HOME")
    os.environ["GIGAFACTORY_HOME"] = str(_HOME)  # a job a fuzzed valid scenario might start uses this stage cache
    yield
    _APP.state.jobs.shutdown()
    shutil.rmtree(_HOME, ignore_errors=True)
    if old is None:
        os.environ.pop("GIGAFACTORY_HOME", None)
    else:
        os.environ["GIGAFACTORY_HOME"] = old


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_with_a_key(case):
    response = case.call(headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_5xx_without_a_key(case):
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    if case.path != "/api/health" and not case.path.startswith("/reports/"):  # every other route needs a key
        assert 400 <= response.status_code < 500, (case.path, response.status_code)  # 401 mostly; 400/405/413/422 for bodies and methods FastAPI refuses first
