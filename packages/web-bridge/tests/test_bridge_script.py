"""script_response: the packaged op.js, ETag / 304, caching headers, gzip."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from openpanel_core import __version__
from openpanel_web_bridge import StaticResponse, script_response, script_version
from openpanel_web_bridge._script import script_source


def headers_of(response: StaticResponse) -> dict[str, str]:
    names = [name for name, _ in response.headers]
    assert len(names) == len(set(names)), "no header twice"
    assert all(name == name.lower() for name in names)
    return dict(response.headers)


def test_200_identity() -> None:
    r = script_response()
    h = headers_of(r)
    assert r.status == 200
    assert r.body == script_source()
    assert h["content-type"] == "text/javascript; charset=utf-8"
    assert h["content-length"] == str(len(r.body))
    assert h["cache-control"] == "public, max-age=31536000, immutable"
    assert h["vary"] == "Accept-Encoding"
    assert h["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in h
    digest = hashlib.sha256(r.body).hexdigest()
    assert h["etag"] == f'"{digest[:32]}"'
    assert script_version() == digest[:12]


@pytest.mark.parametrize(
    "accept",
    ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "*", "identity, *;q=0.5", "GZIP"],
)
def test_200_gzip_when_accepted(accept: str) -> None:
    r = script_response(accept_encoding=accept)
    h = headers_of(r)
    assert h["content-encoding"] == "gzip"
    assert gzip.decompress(r.body) == script_source()
    assert h["content-length"] == str(len(r.body))
    assert h["etag"].endswith('-gz"')
    assert h["etag"] != headers_of(script_response())["etag"]


@pytest.mark.parametrize("accept", [None, "", "br", "gzip;q=0", "*;q=0", "deflate, gzip;q=0"])
def test_identity_when_gzip_not_accepted(accept: str | None) -> None:
    assert "content-encoding" not in headers_of(script_response(accept_encoding=accept))


def test_304_when_etag_matches() -> None:
    etag = headers_of(script_response())["etag"]
    gz_etag = headers_of(script_response(accept_encoding="gzip"))["etag"]
    for value in (etag, gz_etag, f'"other", {etag}', f"W/{etag}", "*"):
        r = script_response(value)
        assert r.status == 304, value
        assert r.body == b""
        h = headers_of(r)
        assert h["etag"] == etag
        assert h["cache-control"] == "public, max-age=31536000, immutable"
        assert "content-length" not in h
    assert headers_of(script_response(etag, accept_encoding="gzip"))["etag"] == gz_etag


def test_200_when_etag_differs() -> None:
    assert script_response('"stale"').status == 200
    assert script_response("garbage").status == 200


def test_script_is_the_packaged_build_with_the_suite_version() -> None:
    from importlib import resources

    raw = resources.files("openpanel_web_bridge").joinpath("static/op.js").read_bytes()
    served = script_source()
    assert served == raw  # the minified build of packages/js: one line, nothing to trim
    assert f'"{__version__}"'.encode() in served
    assert b"__OPENPANEL_SDK_VERSION__" not in served


def test_script_size_budget() -> None:
    gz = len(gzip.compress(script_source(), 9))
    assert gz <= 2000, f"op.js is {gz} B gzip; the budget is 2,000 B"
