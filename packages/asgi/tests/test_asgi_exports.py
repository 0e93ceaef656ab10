from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import openpanel_asgi


def test_all_is_sorted_and_complete() -> None:
    public = {
        n
        for n in dir(openpanel_asgi)
        if not n.startswith("_") and not inspect.ismodule(getattr(openpanel_asgi, n))
    } - {"annotations"}
    assert sorted(openpanel_asgi.__all__) == openpanel_asgi.__all__
    assert set(openpanel_asgi.__all__) - {"__version__"} == public


def test_import_and_middleware_work_without_starlette_or_fastapi() -> None:
    code = textwrap.dedent(
        """
        import asyncio, importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("starlette", "fastapi"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, Block())
        import openpanel_asgi
        from openpanel_core.testing import AsyncRecordingTransport

        async def app(scope, receive, send):
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        async def main():
            transport = AsyncRecordingTransport()
            mw = openpanel_asgi.OpenPanelMiddleware(
                app, client_id="5b0a6a9e-7c1d-4f7a-9a43-3f1c2b9d8e10",
                api_url="http://openpanel.invalid", track_requests=True,
                client_options={"transport": transport},
            )
            sent = []
            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}
            async def send(message):
                sent.append(message)
            scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/",
                     "query_string": b"", "headers": [(b"host", b"x")], "scheme": "http",
                     "client": ("198.51.100.1", 1), "root_path": ""}
            await mw(scope, receive, send)
            await mw.aclose()
            assert sent[0]["status"] == 200
            assert [e.name for e in transport.events] == ["server_request"]

        asyncio.run(main())
        assert not any(m.split(".")[0] in ("starlette", "fastapi") for m in sys.modules)
        try:
            import openpanel_asgi.fastapi
        except ModuleNotFoundError as exc:
            assert exc.name == "fastapi", exc.name
        else:
            raise AssertionError("openpanel_asgi.fastapi imported without FastAPI")
        print("ok")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
