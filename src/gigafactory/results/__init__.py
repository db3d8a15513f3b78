"""Typed, frozen results passed between the pipeline's stages (one module per stage).

Field names are the JSON keys of result.json, with units in the names; JSON appears only at
the edges (result.json, --json, the API).  The JSON Schema of a plan's result is generated
from these models (`gigafactory.results.schema`)."""
