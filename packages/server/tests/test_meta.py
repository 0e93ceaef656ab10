from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from openpanel_server._meta import MetaStore, origin_allowed


@pytest.fixture
def meta(tmp_path: Path) -> MetaStore:
    return MetaStore(tmp_path / "meta.db")


def test_projects_and_clients(meta: MetaStore) -> None:
    project = meta.create_project("Shop", ["https://shop.example"])
    client, secret = meta.create_client(project.id)
    assert secret is not None and secret.startswith("sec_")
    assert meta.get_client(client.id) == client
    assert meta.verify_secret(client.id, secret)
    assert not meta.verify_secret(client.id, secret + "x")
    assert not meta.verify_secret(client.id, "")
    assert not meta.verify_secret("00000000-0000-4000-8000-000000000000", secret)
    browser, none = meta.create_client(project.id, "browser", with_secret=False)
    assert none is None
    assert not meta.verify_secret(browser.id, "anything")
    assert [c.id for c in meta.list_clients(project.id)] == [client.id, browser.id]
    assert meta.revoke_client(client.id)
    revoked = meta.get_client(client.id)
    assert revoked is not None and revoked.revoked
    assert not meta.revoke_client("missing")
    with pytest.raises(KeyError):
        meta.create_client("nope")


def test_secrets_are_stored_hashed(meta: MetaStore, tmp_path: Path) -> None:
    project = meta.create_project("P")
    _, secret = meta.create_client(project.id)
    assert secret is not None
    assert secret.encode() not in (tmp_path / "meta.db").read_bytes()


def test_salts_rotate_daily_and_keep_the_previous(meta: MetaStore) -> None:
    day1 = dt.date(2026, 1, 1)
    current1, previous1 = meta.salts(day1)
    assert current1 == previous1
    assert meta.salts(day1) == (current1, previous1)
    current2, previous2 = meta.salts(day1 + dt.timedelta(days=1))
    assert current2 != current1
    assert previous2 == current1
    current3, previous3 = meta.salts(day1 + dt.timedelta(days=2))
    assert previous3 == current2
    assert len({current1, current2, current3}) == 3


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        ("https://shop.example", ["https://shop.example"], True),
        ("https://www.shop.example", ["shop.example"], True),
        ("https://shop.example", ["https://shop.example/"], True),
        ("http://shop.example:8080", ["shop.example"], False),
        ("http://shop.example:8080", ["shop.example:8080"], True),
        ("https://a.shop.example", ["*.shop.example"], True),
        ("https://shop.example", ["*.shop.example"], False),
        ("https://evil.example", ["https://shop.example"], False),
        ("https://shop.example.evil", ["shop.example"], False),
        ("https://anything.test", ["*"], True),
        ("", ["*"], False),
    ],
)
def test_origin_rules(origin: str, allowed: list[str], ok: bool) -> None:
    assert origin_allowed(origin, allowed) is ok


def test_saved_cohorts_belong_to_their_project(meta: MetaStore) -> None:
    shop, other = meta.create_project("Shop"), meta.create_project("Other")
    cohorts = meta.cohorts
    first = cohorts.create(shop.id, "Buyers", {"events": ["purchase"]})
    second = cohorts.create(shop.id, "All", {})
    assert first.id.startswith("coh_") and first.id != second.id
    assert cohorts.list(shop.id) == [first, second]
    assert cohorts.list(other.id) == []
    assert cohorts.get(other.id, first.id) is None
    assert cohorts.get(shop.id, first.id) == first
    assert cohorts.update(other.id, first.id, "x", {}) is None
    assert not cohorts.delete(other.id, first.id)
    updated = cohorts.update(shop.id, first.id, "Payers", {"events": ["pay"]})
    assert updated is not None
    assert (updated.name, updated.definition) == ("Payers", {"events": ["pay"]})
    assert updated.created_at == first.created_at
    assert updated.updated_at >= first.updated_at
    assert updated.to_json()["definition"] == {"events": ["pay"]}
    assert cohorts.delete(shop.id, first.id)
    assert cohorts.list(shop.id) == [second]
