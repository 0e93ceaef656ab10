from __future__ import annotations

from pathlib import Path

from server_helpers import make_geo_db

from openpanel_server._geo import EMPTY_GEO, GeoLookup


def test_lookup_reads_city_region_country_location(tmp_path: Path) -> None:
    geo = GeoLookup(make_geo_db(tmp_path / "city.mmdb"))
    found = geo.lookup("203.0.113.9")
    assert (found.country, found.city, found.region) == ("SE", "Stockholm", "Stockholm County")
    assert found.latitude is not None and abs(found.latitude - 59.3293) < 1e-4
    assert found.longitude is not None and abs(found.longitude - 18.0686) < 1e-4
    assert geo.lookup("198.51.100.1") == EMPTY_GEO
    assert geo.lookup("") == EMPTY_GEO
    assert geo.lookup("not-an-ip") == EMPTY_GEO
    geo.close()


def test_no_database_means_empty_geo() -> None:
    assert GeoLookup(None).lookup("203.0.113.9") == EMPTY_GEO
