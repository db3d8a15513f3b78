"""The pipeline of typed stages that every entry point runs (see docs/architecture.md)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from gigafactory.pipeline.cache import StageCache, cache_enabled_by_env
from gigafactory.pipeline.graph import Inputs, Stage, StageRun
from gigafactory.pipeline.graph import Pipeline as _Graph
from gigafactory.pipeline.options import RunOptions
from gigafactory.pipeline.streams import stream, stream_seed

if TYPE_CHECKING:
    from gigafactory.catalog import Catalog
    from gigafactory.scenario.model import Scenario


def Pipeline(cat: "Catalog", scn: "Scenario", options: RunOptions | None = None, cache: StageCache | None = None, progress=None) -> _Graph:  # noqa: N802
    """The twin's stage graph (gigafactory.pipeline.stages.STAGES) for one scenario and options."""
    from gigafactory.pipeline.stages import STAGES

    return _Graph(cat, scn, STAGES, options or RunOptions(), cache, progress)


__all__ = ["Inputs", "Pipeline", "RunOptions", "Stage", "StageCache", "StageRun", "cache_enabled_by_env", "stream", "stream_seed"]
