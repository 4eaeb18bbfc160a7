"""Load the JSON Schemas in `schemas/` and compile them once: the schemas are the contract, code never restates them."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema

Validator = Callable[[Any], Any]


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the parsed schema `schemas/<name>.schema.json`, e.g. `load_schema("traffic.v1")`."""
    text = resources.files("schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Validator:
    """A compiled validator for one schema; raises `fastjsonschema.JsonSchemaValueException`."""
    compiled: Validator = fastjsonschema.compile(load_schema(name), use_formats=False)
    return compiled
