"""``/api/cohorts``: saved cohorts of the caller's project.

Authenticated as ``/api/analytics`` is (the ``openpanel-client-id`` and
``openpanel-client-secret`` headers of a ``read`` or ``root`` client). Reading (``GET``) is open
to both; creating, replacing and deleting need a ``root`` client (a ``read`` client is read-only,
as in OpenPanel) and answer 403 to a read client.

A cohort is ``{"id", "name", "definition", "createdAt", "updatedAt"}``; ``definition`` is a
:class:`~openpanel_server._analytics.CohortRule` (``range``/``startDate``/``endDate``,
``events``, ``filters``, ``minEvents``). Every analytics query of the project sees the saved
cohorts, so ``{"name": "cohort", "operator": "inCohort", "value": ["<id>"]}`` selects their
members.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic import Field, ValidationError
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openpanel_server._analytics import (
    AnalyticsClient,
    CohortDefinition,
    CohortRule,
    Loc,
    QueryContext,
    check_regexes,
    invalid,
)
from openpanel_server._analytics._base import ApiModel
from openpanel_server._analytics._sql import Params
from openpanel_server._analytics._where import cohort_members_sql
from openpanel_server._auth import Caller
from openpanel_server._meta import MetaStore

__all__ = ["CohortBody", "cohort_routes", "saved_definitions"]

logger = logging.getLogger("openpanel_server")

Reader = Callable[[Request], "Caller | Response"]
Rename = Callable[[Loc], Loc]
_NEW = "(new cohort)"
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")


class CohortBody(ApiModel):
    """The body of ``POST /api/cohorts`` and ``PUT /api/cohorts/{id}``.

    Attributes:
        name: A label (1 to 200 characters).
        definition: Who is in the cohort.
    """

    name: str = Field(min_length=1, max_length=200)
    definition: CohortRule


def saved_definitions(meta: MetaStore, project_id: str) -> dict[str, CohortDefinition]:
    """The project's saved cohorts by id, for ``QueryContext.cohorts``.

    A stored definition that no longer validates is skipped (and logged), so the others stay
    usable; a filter naming it gets the usual unknown-cohort 400.
    """
    out: dict[str, CohortDefinition] = {}
    for saved in meta.cohorts.list(project_id):
        try:
            out[saved.id] = CohortDefinition.model_validate(
                {**saved.definition, "id": saved.id, "name": saved.name}
            )
        except ValidationError:
            logger.warning("saved cohort %s does not validate; skipped", saved.id)
    return out


def validation_response(exc: ValidationError, rename: Rename | None = None) -> JSONResponse:
    """The API's 400: ``{"error": "validation", "fields": [{"field", "type", "message"}]}``."""
    fields: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False, include_input=False):
        # A field validated from its default is located by its Python name: use the wire's.
        loc: Loc = tuple(
            to_camel(p) if isinstance(p, str) and _SNAKE.fullmatch(p) else p for p in err["loc"]
        )
        if rename is not None:
            loc = rename(loc)
        fields.append(
            {
                "field": ".".join(str(p) for p in loc) or "body",
                "type": err["type"],
                "message": err["msg"],
            }
        )
    return JSONResponse({"error": "validation", "fields": fields}, status_code=400)


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


def _not_found(cohort_id: str) -> JSONResponse:
    return _error(404, "Not Found", f"no cohort {cohort_id!r} in this project")


def _forbidden(caller: Caller) -> JSONResponse | None:
    if caller.client.type == "root":
        return None
    return _error(
        403,
        "Forbidden",
        f"Saving, changing and deleting cohorts needs a root client; this {caller.client.type} "
        "client may only list and read them (create one with: openpanel-server client create "
        f"--project {caller.project.id} --type root)",
    )


def cohort_routes(
    meta: MetaStore,
    reader: Reader,
    read_body: Callable[[Request], Awaitable[dict[str, Any] | Response]],
    client: Callable[[], AnalyticsClient],
) -> list[Route]:
    """The ``/api/cohorts`` routes.

    Args:
        meta: Where cohorts are stored.
        reader: Authenticates a request (a read or root client) or answers it.
        read_body: Reads a request's JSON object body, or answers the request (400, 413).
        client: The analytics read client (to compile regex filters before saving).
    """

    def _check(caller: Caller, cohort_id: str | None, body: CohortBody) -> None:
        """Resolve the definition against the saved cohorts; raises ValidationError."""
        key = cohort_id or _NEW
        saved = saved_definitions(meta, caller.project.id)
        saved[key] = CohortDefinition.model_validate(
            {**body.definition.model_dump(), "id": key, "name": body.name}
        )
        _check_cycles(key, body.definition, saved)
        ctx = QueryContext(
            project_id=caller.project.id, timezone=caller.project.timezone, cohorts=saved
        )
        params = Params()
        # Unknown cohort ids, nesting deeper than three levels and cycles fail here.
        cohort_members_sql(key, params, ctx, 0, ("definition",))
        check_regexes(client(), params.regexes)

    def _renamer(cohort_id: str | None) -> Rename:
        key = cohort_id or _NEW

        def rename(loc: Loc) -> Loc:
            if loc[:2] == ("cohort", key):
                return ("definition", *loc[2:])
            return loc

        return rename

    async def _body(request: Request) -> CohortBody | Response:
        data = await read_body(request)
        if isinstance(data, Response):
            return data
        try:
            return CohortBody.model_validate(data)
        except ValidationError as exc:
            return validation_response(exc)

    async def _save(request: Request, cohort_id: str | None) -> Response:
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        if (refused := _forbidden(caller)) is not None:
            return refused
        body = await _body(request)
        if isinstance(body, Response):
            return body
        if cohort_id is not None:
            found = await run_in_threadpool(meta.cohorts.get, caller.project.id, cohort_id)
            if found is None:
                return _not_found(cohort_id)
        try:
            await run_in_threadpool(_check, caller, cohort_id, body)
        except ValidationError as exc:
            return validation_response(exc, _renamer(cohort_id))
        definition = body.definition.model_dump(mode="json", by_alias=True)
        if cohort_id is None:
            created = await run_in_threadpool(
                meta.cohorts.create, caller.project.id, body.name, definition
            )
            return JSONResponse(created.to_json(), status_code=201)
        updated = await run_in_threadpool(
            meta.cohorts.update, caller.project.id, cohort_id, body.name, definition
        )
        if updated is None:  # deleted meanwhile
            return _not_found(cohort_id)
        return JSONResponse(updated.to_json())

    async def collection(request: Request) -> Response:
        if request.method == "POST":
            return await _save(request, None)
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        cohorts = await run_in_threadpool(meta.cohorts.list, caller.project.id)
        return JSONResponse({"cohorts": [c.to_json() for c in cohorts]})

    async def item(request: Request) -> Response:
        cohort_id: str = request.path_params["cohort_id"]
        if request.method == "PUT":
            return await _save(request, cohort_id)
        caller = reader(request)
        if isinstance(caller, Response):
            return caller
        if request.method == "GET":
            found = await run_in_threadpool(meta.cohorts.get, caller.project.id, cohort_id)
            return _not_found(cohort_id) if found is None else JSONResponse(found.to_json())
        if (refused := _forbidden(caller)) is not None:
            return refused
        return await run_in_threadpool(_delete, caller, cohort_id)

    def _delete(caller: Caller, cohort_id: str) -> Response:
        project = caller.project.id
        if meta.cohorts.get(project, cohort_id) is None:
            return _not_found(cohort_id)
        users = [
            c.id
            for c in saved_definitions(meta, project).values()
            if c.id != cohort_id and _names(c, cohort_id)
        ]
        if users:
            return _error(
                409,
                "Conflict",
                f"cohort {cohort_id!r} is used by the filters of {', '.join(sorted(users))}: "
                "change or delete those first",
            )
        meta.cohorts.delete(project, cohort_id)
        return Response(status_code=204)

    return [
        Route("/api/cohorts", collection, methods=["GET", "POST"]),
        Route("/api/cohorts/{cohort_id}", item, methods=["GET", "PUT", "DELETE"]),
    ]


def _check_cycles(key: str, rule: CohortRule, cohorts: Mapping[str, CohortDefinition]) -> None:
    """Refuse a definition whose cohort filters lead back to the cohort itself.

    Raises:
        pydantic.ValidationError: At the filter value that starts the cycle (``cohort_cycle``).
    """

    def reaches(start: str) -> bool:
        seen: set[str] = set()
        todo = [start]
        while todo:
            current = todo.pop()
            if current == key:
                return True
            if current in seen or current not in cohorts:
                continue
            seen.add(current)
            for f in cohorts[current].filters:
                if f.name == "cohort":
                    todo.extend(f.texts)
        return False

    for i, f in enumerate(rule.filters):
        if f.name != "cohort":
            continue
        for j, cohort_id in enumerate(f.texts):
            if reaches(cohort_id):
                msg = f"cohort {cohort_id!r} refers back to this cohort"
                raise invalid(
                    ("definition", "filters", i, "value", j), "cohort_cycle", msg, cohort_id
                )


def _names(cohort: CohortDefinition, cohort_id: str) -> bool:
    """Whether ``cohort``'s own filters name ``cohort_id``."""
    return any(f.name == "cohort" and cohort_id in f.texts for f in cohort.filters)
