"""Geo lookup from a MaxMind-format database (GeoLite2-City or compatible), when one is given.

No database ships with the server (GeoLite2's licence requires an account to download it):
pass ``--geoip-db`` or drop ``GeoLite2-City.mmdb`` into the data folder. Without one, geo
columns stay empty, as OpenPanel's do without its MaxMind files.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

__all__ = ["EMPTY_GEO", "Geo", "GeoLookup"]


@dataclass(frozen=True, slots=True)
class Geo:
    """Where an IP address is (English names, ISO 3166 alpha-2 country)."""

    country: str = ""
    city: str = ""
    region: str = ""
    latitude: float | None = None
    longitude: float | None = None


EMPTY_GEO = Geo()


def _dict(node: object) -> dict[str, Any]:
    return cast("dict[str, Any]", node) if isinstance(node, dict) else {}


def _name(node: object) -> str:
    english = _dict(_dict(node).get("names")).get("en")
    return english if isinstance(english, str) else ""


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


class GeoLookup:
    """Cached lookups in one database (thread-safe: maxminddb readers are)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._reader: Any = None
        if path is not None:
            import maxminddb  # only when a database is configured

            self._reader = maxminddb.open_database(str(path))  # pyright: ignore[reportUnknownMemberType]
        self.lookup = functools.lru_cache(maxsize=4096)(self._lookup)

    def _lookup(self, ip: str) -> Geo:
        if self._reader is None or not ip:
            return EMPTY_GEO
        try:
            record: Any = self._reader.get(ip)
        except ValueError:  # not an IP address
            return EMPTY_GEO
        data = _dict(record)
        iso = _dict(data.get("country")).get("iso_code")
        subdivisions = data.get("subdivisions")
        first_subdivision: object = (
            cast("list[object]", subdivisions)[0]
            if isinstance(subdivisions, list) and subdivisions
            else None
        )
        location = _dict(data.get("location"))
        return Geo(
            country=iso if isinstance(iso, str) else "",
            city=_name(data.get("city")),
            region=_name(first_subdivision),
            latitude=_float(location.get("latitude")),
            longitude=_float(location.get("longitude")),
        )

    def close(self) -> None:
        """Close the database."""
        if self._reader is not None:
            self._reader.close()
