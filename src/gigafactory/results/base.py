"""Base class of every stage result: frozen, unknown fields refused, numbers as given."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Result(BaseModel):
    """A frozen, typed stage result.  ``model_dump(mode="json")`` is its JSON form."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="null", protected_namespaces=())
