"""Docs that are generated from code stay in sync with it."""
from gigafactory.scenario.docs import render

from conftest import REPO


def test_scenario_reference_is_up_to_date():
    """docs/scenario.md is rendered from the pydantic schema; regenerate with
    `python -m gigafactory.scenario.docs > docs/scenario.md`."""
    assert (REPO / "docs" / "scenario.md").read_text(encoding="utf-8") == render()


def test_readme_opens_with_the_two_setup_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0].strip() for b in text.split("```bash\n")[1:3]]
    assert blocks[0].endswith("pip install -e . && gigafactory plan")
    assert blocks[1].endswith("pip install -e '.[test]' && pytest")
    head = text.split("```bash", 1)[0]
    assert head.strip() == "# gigafactory", "nothing but the title may come before the two commands"


def test_result_reference_is_generated_from_the_types():
    """docs/result.md is rendered from the result models' JSON Schema; regenerate with
    `python -m gigafactory.results.docs > docs/result.md`."""
    from gigafactory.results.docs import render as render_result

    text = (REPO / "docs" / "result.md").read_text(encoding="utf-8")
    assert text == render_result()
    for key in ("rollout.solver.method", "economics.npv_usd", "simulation.pools[].ttft_s.p99", "design.sites[].pue_monthly"):
        assert f"`{key}`" in text, key
