"""Saved cohorts over HTTP: /api/cohorts and inCohort filters against the real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from server_helpers import RunningServer, start_server

from openpanel_core import OpenPanel
from openpanel_server._meta import MetaStore

# Two visitors sign up, one of them buys; a third only looks.
VISITORS: dict[str, list[str]] = {
    "u-ada": ["signup", "purchase"],
    "u-bob": ["signup"],
    "u-cy": ["view"],
}


@dataclass
class Setup:
    server: RunningServer
    root: dict[str, str]
    other_read: dict[str, str]
    other_root: dict[str, str]


def _headers(client_id: str, secret: str | None) -> dict[str, str]:
    assert secret is not None
    return {"openpanel-client-id": client_id, "openpanel-client-secret": secret}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    running = start_server(tmp_path_factory.mktemp("cohorts"))
    try:
        meta = MetaStore(running.data_dir / "meta.db")
        try:
            root, root_secret = meta.create_client(running.creds["projectId"], "admin", type="root")
            other = meta.create_project("Other")
            reader, reader_secret = meta.create_client(other.id, "r", type="read")
            admin, admin_secret = meta.create_client(other.id, "a", type="root")
        finally:
            meta.close()
        op = OpenPanel(running.client_id, running.secret, api_url=running.url, flush_interval=0.02)
        for profile, events in VISITORS.items():
            for name in events:
                op.track(name, profile_id=profile)
        assert op.flush(10)
        op.shutdown()
        deadline = time.monotonic() + 15
        while len(running.events(event=["signup", "purchase", "view"])["data"]) < 4:
            assert time.monotonic() < deadline, "the events were not stored"
            time.sleep(0.2)
        yield Setup(
            running,
            _headers(root.id, root_secret),
            _headers(reader.id, reader_secret),
            _headers(admin.id, admin_secret),
        )
    finally:
        running.stop()


def call(setup: Setup, method: str, path: str, **kw: Any) -> httpx.Response:
    kw.setdefault("headers", setup.root)
    return httpx.request(method, f"{setup.server.url}{path}", timeout=30, **kw)


def save(setup: Setup, name: str, definition: dict[str, Any]) -> dict[str, Any]:
    r = call(setup, "POST", "/api/cohorts", json={"name": name, "definition": definition})
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def users(setup: Setup, *filters: dict[str, Any], where: str = "filters") -> float:
    """Unique users of any event today, with ``filters`` on the request or on the series."""
    series: dict[str, Any] = {"name": "*", "segment": "user"}
    body: dict[str, Any] = {"range": "today", "series": [series]}
    if where == "filters":
        body["filters"] = list(filters)
    else:
        series["filters"] = list(filters)
    r = call(
        setup, "POST", "/api/analytics/time_series", json=body, headers=setup.server.read_headers()
    )
    assert r.status_code == 200, r.text
    total: float = r.json()["series"][0]["metrics"]["sum"]
    return total


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    data = r.json()
    assert data["error"] == "validation"
    return [f["field"] for f in data["fields"]]


def in_cohort(*ids: str, negate: bool = False) -> dict[str, Any]:
    return {"name": "cohort", "operator": "notInCohort" if negate else "inCohort", "value": ids}


def test_saved_cohorts_are_usable_as_filters(setup: Setup) -> None:
    signed = save(setup, "Signed up", {"range": "today", "events": ["signup"]})
    assert signed["name"] == "Signed up"
    assert signed["id"].startswith("coh_")
    assert signed["createdAt"] == signed["updatedAt"]
    assert signed["definition"] == {
        "range": "today",
        "startDate": None,
        "endDate": None,
        "events": ["signup"],
        "filters": [],
        "minEvents": 1,
    }
    read = setup.server.read_headers()
    listed = call(setup, "GET", "/api/cohorts", headers=read).json()["cohorts"]
    assert signed in listed
    assert call(setup, "GET", f"/api/cohorts/{signed['id']}", headers=read).json() == signed
    assert users(setup) == 3
    assert users(setup, in_cohort(signed["id"])) == 2
    assert users(setup, in_cohort(signed["id"], negate=True)) == 1
    assert users(setup, in_cohort(signed["id"]), where="series") == 2
    # A cohort defined through another one: buyers among those who signed up.
    buyers = save(
        setup,
        "Buyers",
        {"range": "7d", "events": ["purchase"], "filters": [in_cohort(signed["id"])]},
    )
    assert users(setup, in_cohort(buyers["id"])) == 1
    r = call(
        setup,
        "POST",
        "/api/analytics/cohort_activity",
        json={"cohortId": buyers["id"], "range": "today"},
        headers=read,
    )
    assert r.status_code == 200, r.text
    assert sum(p["users"] for p in r.json()["data"]) == 1


def test_an_unknown_cohort_id_is_a_400_naming_the_filter(setup: Setup) -> None:
    path_set = {"name": "path", "operator": "isNotNull"}
    body = {"range": "today", "filters": [path_set, in_cohort("coh_missing")]}
    r = call(setup, "POST", "/api/analytics/overview", json=body)
    assert fields(r) == ["filters.1.value.0"]
    assert r.json()["fields"][0]["type"] == "unknown_cohort"
    series = {"series": [{"name": "signup", "filters": [in_cohort("coh_missing")]}]}
    assert fields(call(setup, "POST", "/api/analytics/time_series", json=series)) == [
        "series.0.filters.0.value.0"
    ]


def test_bad_definitions_are_400s_naming_the_field(setup: Setup) -> None:
    def post(body: Any) -> httpx.Response:
        return call(setup, "POST", "/api/cohorts", json=body)

    assert fields(post({"name": "", "definition": {}})) == ["name"]
    assert fields(post({"name": "x"})) == ["definition"]
    assert fields(post({"name": "x", "definition": {"range": "never"}})) == ["definition.range"]
    assert fields(post({"name": "x", "definition": {"id": "mine"}})) == ["definition.id"]
    bad_op = {"filters": [{"name": "path", "operator": "like", "value": ["/"]}]}
    assert fields(post({"name": "x", "definition": bad_op})) == ["definition.filters.0.operator"]
    unknown = {"filters": [in_cohort("coh_missing")]}
    r = post({"name": "x", "definition": unknown})
    assert fields(r) == ["definition.filters.0.value.0"]
    assert r.json()["fields"][0]["type"] == "unknown_cohort"
    regex = {"filters": [{"name": "path", "operator": "regex", "value": ["ok", "(a"]}]}
    r = post({"name": "x", "definition": regex})
    assert fields(r) == ["definition.filters.0.value.1"]
    assert r.json()["fields"][0]["type"] == "invalid_regex"
    r = call(setup, "POST", "/api/cohorts", content=b"{nope")
    assert fields(r) == ["body"]
    names = [c["name"] for c in call(setup, "GET", "/api/cohorts").json()["cohorts"]]
    assert "x" not in names  # nothing refused was saved


def test_update_and_delete(setup: Setup) -> None:
    first = save(setup, "Viewers", {"range": "today", "events": ["view"]})
    second = save(setup, "Viewer buyers", {"filters": [in_cohort(first["id"])]})
    path = f"/api/cohorts/{first['id']}"
    time.sleep(0.01)
    r = call(setup, "PUT", path, json={"name": "Lookers", "definition": {"events": ["view"]}})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["name"] == "Lookers"
    assert updated["definition"]["range"] == "30d"
    assert updated["createdAt"] == first["createdAt"]
    assert updated["updatedAt"] > first["updatedAt"]
    # Referring back to the cohort that refers to it would be a cycle.
    cycle = {"name": "Lookers", "definition": {"filters": [in_cohort(second["id"])]}}
    r = call(setup, "PUT", path, json=cycle)
    assert fields(r) == ["definition.filters.0.value.0"]
    assert r.json()["fields"][0]["type"] == "cohort_cycle"
    r = call(setup, "DELETE", path)
    assert r.status_code == 409
    assert second["id"] in r.json()["message"]
    assert call(setup, "DELETE", f"/api/cohorts/{second['id']}").status_code == 204
    assert call(setup, "DELETE", path).status_code == 204
    assert call(setup, "GET", path).status_code == 404
    assert call(setup, "DELETE", path).status_code == 404
    r = call(setup, "PUT", path, json={"name": "x", "definition": {}})
    assert r.status_code == 404


def test_writes_need_a_root_client(setup: Setup) -> None:
    read = setup.server.read_headers()
    body: dict[str, Any] = {"name": "Mine", "definition": {}}
    r = call(setup, "POST", "/api/cohorts", json=body, headers=read)
    assert r.status_code == 403
    message = r.json()["message"]
    assert "needs a root client" in message
    assert "read client may only list and read" in message
    kept = save(setup, "Kept", {})
    for method in ("PUT", "DELETE"):
        r = call(setup, method, f"/api/cohorts/{kept['id']}", json=body, headers=read)
        assert r.status_code == 403
    assert call(setup, "GET", f"/api/cohorts/{kept['id']}", headers=read).status_code == 200
    for headers in ({}, setup.server.server_headers()):
        assert call(setup, "GET", "/api/cohorts", headers=headers).status_code == 401
        assert call(setup, "POST", "/api/cohorts", json=body, headers=headers).status_code == 401


def test_another_projects_cohorts_are_not_found(setup: Setup) -> None:
    mine = save(setup, "Mine", {"events": ["signup"]})
    path = f"/api/cohorts/{mine['id']}"
    assert call(setup, "GET", path, headers=setup.other_read).status_code == 404
    assert call(setup, "GET", "/api/cohorts", headers=setup.other_read).json() == {"cohorts": []}
    assert call(setup, "DELETE", path, headers=setup.other_root).status_code == 404
    r = call(setup, "PUT", path, json={"name": "x", "definition": {}}, headers=setup.other_root)
    assert r.status_code == 404
    # Nor usable in the other project's filters.
    body = {"range": "today", "filters": [in_cohort(mine["id"])]}
    r = call(setup, "POST", "/api/analytics/overview", json=body, headers=setup.other_read)
    assert fields(r) == ["filters.0.value.0"]
    assert call(setup, "GET", path).status_code == 200  # still there
