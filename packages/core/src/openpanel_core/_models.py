"""The OpenPanel wire protocol as pydantic models: the single source of truth.

The client builds its payloads by hand for speed; a contract test checks that every payload it
emits validates against these models. The reference server validates requests with them, and the
JSON Schema they export (``python -m openpanel_core.schema``) generates the browser package's
TypeScript types.

Optional fields are omitted on the wire, never sent as ``null``: stock OpenPanel rejects ``null``
for ``profileId`` and ``value``, so these models reject it too, naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StrictInt,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, core_schema

from openpanel_core._constants import MAX_BATCH_ITEMS, MAX_EVENT_NAME_LENGTH, RESERVED_EVENT_NAMES

__all__ = [
    "AliasEvent",
    "AliasPayload",
    "AssignGroupEvent",
    "AssignGroupPayload",
    "BatchItem",
    "BatchItemResult",
    "BatchRequest",
    "BatchResponse",
    "DecrementEvent",
    "GroupEvent",
    "GroupPayload",
    "IdentifyEvent",
    "IdentifyPayload",
    "IncrementEvent",
    "IncrementPayload",
    "ReplayEvent",
    "ReplayPayload",
    "TrackEvent",
    "TrackPayload",
    "TrackRequest",
    "TrackResponse",
    "WireModel",
    "batch_request_adapter",
    "track_request_adapter",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+[^\s]*$")


class _NotNull:
    """Validate ``T | None`` as plain ``T``.

    The field may be omitted (default None), an explicit ``null`` is refused with the field's
    own error, and the JSON Schema has no null.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        args = tuple(a for a in get_args(source) if a is not type(None))
        inner: Any = args[0] if len(args) == 1 else Union[args]  # noqa: UP007
        return core_schema.no_info_before_validator_function(
            _reject_null, handler.generate_schema(inner)
        )


def _reject_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "must be omitted instead of null")
    return value


_T = TypeVar("_T")
#: An optional field: may be left out, may not be ``null``.
Omittable = Annotated[_T | None, _NotNull()]

NonEmptyStr = Annotated[str, Field(min_length=1)]
ProfileId = NonEmptyStr | StrictInt
Properties = dict[str, Any]


class WireModel(BaseModel):
    """Base of every wire model: camelCase on the wire, snake_case in Python, no nulls."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict, with unset optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


class TrackPayload(WireModel):
    """``track``: one named event."""

    name: Annotated[str, Field(min_length=1, max_length=MAX_EVENT_NAME_LENGTH)]
    properties: Omittable[Properties] = None
    profile_id: Omittable[ProfileId] = None
    groups: Omittable[list[NonEmptyStr]] = None

    @field_validator("name")
    @classmethod
    def _name_allowed(cls, name: str) -> str:
        if name in RESERVED_EVENT_NAMES:
            raise ValueError(f"{name!r} is reserved for events the server writes")
        if "\n" in name or "\r" in name:
            raise ValueError("must not contain line breaks")
        return name

    @model_validator(mode="after")
    def _revenue_is_cents(self) -> TrackPayload:
        if self.name == "revenue" and self.properties and "__revenue" in self.properties:
            amount = self.properties["__revenue"]
            if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                raise ValueError("properties.__revenue must be a non-negative integer (cents)")
        return self


class IdentifyPayload(WireModel):
    """``identify``: create or update a profile."""

    profile_id: ProfileId
    first_name: Omittable[str] = None
    last_name: Omittable[str] = None
    email: Omittable[str] = None
    avatar: Omittable[str] = None
    properties: Omittable[Properties] = None

    @field_validator("email")
    @classmethod
    def _email(cls, email: str) -> str:
        if not _EMAIL.match(email):
            raise ValueError("must be a valid email address")
        return email

    @field_validator("avatar")
    @classmethod
    def _avatar(cls, avatar: str) -> str:
        if not _URL.match(avatar):
            raise ValueError("must be a URL")
        return avatar


class IncrementPayload(WireModel):
    """``increment`` / ``decrement``: add to or subtract from a numeric profile property."""

    profile_id: ProfileId
    property: NonEmptyStr
    value: Omittable[Annotated[float, Field(gt=0)]] = None


class AliasPayload(WireModel):
    """``alias``: accepted by the schema, refused by OpenPanel servers."""

    profile_id: ProfileId
    alias: NonEmptyStr


class GroupPayload(WireModel):
    """``group``: create or update a group."""

    id: NonEmptyStr
    type: NonEmptyStr
    name: NonEmptyStr
    properties: Omittable[Properties] = None


class AssignGroupPayload(WireModel):
    """``assign_group``: add groups to a profile (or to the device when no profile is given)."""

    group_ids: list[NonEmptyStr]
    profile_id: Omittable[ProfileId] = None


class ReplayPayload(WireModel):
    """``replay``: one chunk of a browser session recording."""

    model_config = ConfigDict(alias_generator=None)

    chunk_index: Annotated[int, Field(ge=0, le=65535)]
    events_count: Annotated[int, Field(ge=1)]
    is_full_snapshot: bool
    started_at: NonEmptyStr
    ended_at: NonEmptyStr
    payload: Annotated[str, Field(max_length=2 * 1024 * 1024)]
    session_id: Omittable[Annotated[str, Field(max_length=64)]] = Field(
        default=None, alias="sessionId"
    )


class TrackEvent(WireModel):
    """A ``POST /track`` body of type ``track``."""

    type: Literal["track"]
    payload: TrackPayload


class IdentifyEvent(WireModel):
    """A ``POST /track`` body of type ``identify``."""

    type: Literal["identify"]
    payload: IdentifyPayload


class IncrementEvent(WireModel):
    """A ``POST /track`` body of type ``increment``."""

    type: Literal["increment"]
    payload: IncrementPayload


class DecrementEvent(WireModel):
    """A ``POST /track`` body of type ``decrement``."""

    type: Literal["decrement"]
    payload: IncrementPayload


class AliasEvent(WireModel):
    """A ``POST /track`` body of type ``alias``."""

    type: Literal["alias"]
    payload: AliasPayload


class GroupEvent(WireModel):
    """A ``POST /track`` body of type ``group``."""

    type: Literal["group"]
    payload: GroupPayload


class AssignGroupEvent(WireModel):
    """A ``POST /track`` body of type ``assign_group``."""

    type: Literal["assign_group"]
    payload: AssignGroupPayload


class ReplayEvent(WireModel):
    """A ``POST /track`` body of type ``replay``."""

    type: Literal["replay"]
    payload: ReplayPayload


#: The body of ``POST /track``: a union discriminated on ``type``.
TrackRequest = Annotated[
    TrackEvent
    | IdentifyEvent
    | IncrementEvent
    | DecrementEvent
    | AliasEvent
    | GroupEvent
    | AssignGroupEvent
    | ReplayEvent,
    Field(discriminator="type"),
]


class TrackResponse(WireModel):
    """The answer to an accepted ``POST /track``."""

    device_id: str
    session_id: str


class _BatchItemBase(WireModel):
    id: Annotated[str, Field(min_length=1, max_length=128)] = Field(
        description="Idempotency id: a retried item with the same id is stored once."
    )
    ip: Omittable[str] = Field(
        default=None, description="The end user's IP (what openpanel-client-ip says for /track)."
    )
    user_agent: Omittable[str] = Field(
        default=None, description="The end user's user agent (the user-agent header for /track)."
    )


class TrackItem(_BatchItemBase):
    """A batch item of type ``track``."""

    type: Literal["track"]
    payload: TrackPayload


class IdentifyItem(_BatchItemBase):
    """A batch item of type ``identify``."""

    type: Literal["identify"]
    payload: IdentifyPayload


class IncrementItem(_BatchItemBase):
    """A batch item of type ``increment``."""

    type: Literal["increment"]
    payload: IncrementPayload


class DecrementItem(_BatchItemBase):
    """A batch item of type ``decrement``."""

    type: Literal["decrement"]
    payload: IncrementPayload


class AliasItem(_BatchItemBase):
    """A batch item of type ``alias``."""

    type: Literal["alias"]
    payload: AliasPayload


class GroupItem(_BatchItemBase):
    """A batch item of type ``group``."""

    type: Literal["group"]
    payload: GroupPayload


class AssignGroupItem(_BatchItemBase):
    """A batch item of type ``assign_group``."""

    type: Literal["assign_group"]
    payload: AssignGroupPayload


#: One element of the ``POST /track/batch`` array.
BatchItem = Annotated[
    TrackItem
    | IdentifyItem
    | IncrementItem
    | DecrementItem
    | AliasItem
    | GroupItem
    | AssignGroupItem,
    Field(discriminator="type"),
]

#: The body of ``POST /track/batch``: a JSON array (the request may be gzip-encoded).
BatchRequest = Annotated[list[BatchItem], Field(min_length=1, max_length=MAX_BATCH_ITEMS)]


class BatchItemResult(WireModel):
    """The outcome of one batch item, in request order.

    ``status`` uses HTTP semantics per item: 200 stored (or already stored: a duplicate id),
    400 invalid (``error`` names the field), 401 refused, 429/5xx try again later.
    """

    id: str
    status: int
    device_id: Omittable[str] = None
    session_id: Omittable[str] = None
    error: Omittable[str] = None
    message: Omittable[str] = None


class BatchResponse(WireModel):
    """The answer to ``POST /track/batch``: one result per item, in request order."""

    results: list[BatchItemResult]


track_request_adapter: TypeAdapter[Any] = TypeAdapter(TrackRequest)
batch_request_adapter: TypeAdapter[list[Any]] = TypeAdapter(BatchRequest)
