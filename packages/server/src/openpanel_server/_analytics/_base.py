"""The pydantic base of every request and response model (camelCase on the wire)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["ApiModel"]


class ApiModel(BaseModel):
    """Frozen, strict about unknown fields, camelCase aliases, snake_case names accepted too.

    Dump responses with ``model_dump(by_alias=True)`` (or ``model_dump_json(by_alias=True)``)
    to get OpenPanel's camelCase names.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
