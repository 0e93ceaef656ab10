"""``openpanel-server``'s failures: one line on stderr with a hint, never a traceback.

Each command runs as a real process (``python -m openpanel_server``); the server ones against
the real server started by ``server_helpers``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from server_helpers import RunningServer, free_port, start_server

from openpanel_server._cli import build_parser, main
from openpanel_server._cli_errors import CliError, run_command


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "OPENPANEL_SERVER_", "OPENPANEL_CLIENT_"))
    }
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "openpanel_server", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
        check=False,
    )


@dataclass
class Ran:
    returncode: int
    stderr: str


def inproc(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    """``main(args)`` in this process (for the paths that need no process of their own)."""
    capsys.readouterr()
    code = main(list(args))
    return Ran(code, capsys.readouterr().err)


def one_line(out: subprocess.CompletedProcess[str] | Ran, code: int, *needles: str) -> str:
    """The single stderr line of a failed command (checked: exit code, no traceback)."""
    err = out.stderr
    assert out.returncode == code, (out.returncode, err)
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("error: "), err
    assert "(hint: " in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("cli-errors"))
    try:
        yield running
    finally:
        running.stop()


# ------------------------------------------------------------------ without a server


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    one_line(cli("bogus"), 2, "invalid choice: 'bogus'", "--help")
    one_line(cli("--data-dir", str(tmp_path), "serve", "--port", "abc"), 2, "--port")
    one_line(cli("project", "update", "x"), 2, "--timezone")
    one_line(cli("import"), 2, "FILE")


def test_a_missing_data_folder_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    one_line(cli("--data-dir", str(missing), "project", "list"), 1, "no data folder at")
    one_line(cli("--data-dir", str(missing), "migrate"), 1, "no data folder at", str(missing))
    for args in (("client", "list"), ("client", "revoke", "c1"), ("webhook", "list")):
        one_line(inproc(capsys, "--data-dir", str(missing), *args), 1, "no data folder at")
    assert not missing.exists()  # nothing was created by a typo
    # --data-dir after the command works too.
    one_line(cli("project", "list", "--data-dir", str(missing)), 1, str(missing))
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    one_line(cli("--data-dir", str(not_a_folder), "project", "create", "Shop"), 1, "exists")


def test_unknown_ids_and_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path)
    assert cli("--data-dir", data, "project", "create", "Shop").returncode == 0
    one_line(
        cli("--data-dir", data, "project", "update", "nope", "--timezone", "UTC"),
        2,
        "no project 'nope'",
        "project list",
    )
    one_line(cli("--data-dir", data, "client", "revoke", "nope"), 2, "no client 'nope'")
    one_line(cli("--data-dir", data, "webhook", "delete", "ep_nope"), 2, "no such webhook")
    for args, needle in (
        (("client", "create", "--project", "nope"), "no project"),
        (("client", "list", "--project", "nope"), "no project"),
        (("webhook", "messages", "ep_nope"), "webhook list"),
        (("webhook", "create", "https://x.example", "--project", "nope"), "no project"),
        (("project", "create", "Bad", "--timezone", "Mars/Base"), "Mars/Base"),
        (("serve", "--webhook-schedule", "a,b"), "--webhook-schedule"),
        (("serve", "--ingest-workers", "-5"), "--ingest-workers"),
        (
            ("export", "--url", "notaurl", "--client-id", "c", "--client-secret", "s", "-o", "x"),
            "not an http(s) URL",
        ),
    ):
        one_line(inproc(capsys, "--data-dir", data, *args), 2, needle)
    one_line(
        cli("--data-dir", data, "project", "list", env={"OPENPANEL_SERVER_PORT": "x"}),
        2,
        "OPENPANEL_SERVER_PORT",
        "'x'",
    )
    one_line(
        cli(
            "import",
            __file__,
            "--url",
            "http://127.0.0.1:1",
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "--batch-size",
            "0",
        ),
        2,
        "--batch-size",
    )
    one_line(
        cli(
            "export",
            "--url",
            "http://127.0.0.1:1",
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "--start",
            "yesterday",
            "-o",
            str(tmp_path / "x.ndjson"),
        ),
        2,
        "--start",
    )
    one_line(
        cli("export", "--url", "http://127.0.0.1:1", "-o", str(tmp_path / "x.ndjson")),
        2,
        "--client-id is required",
        "OPENPANEL_CLIENT_ID",
    )


def test_an_unreachable_server_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    creds = ("--client-id", "c", "--client-secret", "s")
    err = one_line(
        cli("export", "--url", url, *creds, "-o", str(tmp_path / "x.ndjson")),
        1,
        f"cannot reach {url}",
        "check --url",
    )
    assert "refused" in err
    assert not list(tmp_path.iterdir())  # no partial file
    source = tmp_path / "events.ndjson"
    source.write_text('{"id": "e1", "name": "signup", "createdAt": "2026-01-01T00:00:00Z"}\n')
    one_line(
        cli("import", str(source), "--url", url, *creds, "--retries", "0"), 1, f"cannot reach {url}"
    )
    one_line(cli("import", str(tmp_path / "none.ndjson"), "--url", url, *creds), 1, "no file")
    one_line(
        cli("export", "--url", url, *creds, "-o", str(tmp_path / "no" / "x.csv")), 1, "no folder"
    )


def test_a_url_that_is_not_an_openpanel_server(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/track/batch", method="POST").respond_with_data("<html>hi</html>")
    httpserver.expect_request("/api/analytics/export", method="POST").respond_with_data(
        "Not Found", status=404
    )
    url = httpserver.url_for("/").rstrip("/")
    creds = ("--client-id", "c", "--client-secret", "s")
    source = tmp_path / "events.ndjson"
    source.write_text('{"id": "e1", "name": "signup"}\n')
    one_line(
        cli("import", str(source), "--url", url, *creds),
        1,
        "not a list of one result per item",
        "openpanel-server",
    )
    one_line(
        cli("export", "--url", url, *creds, "-o", str(tmp_path / "x.ndjson")),
        1,
        "the server answered 404: Not Found",
        "openpanel-server",
    )


def test_permission_errors(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root ignores file modes; sysfs refuses even root a new folder
        target = Path("/sys/kernel/openpanel-cli-test")
        if not Path("/sys/kernel").is_dir():
            pytest.skip("no way to provoke a permission error as root here")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "data"
    one_line(
        cli("--data-dir", str(target), "project", "create", "Shop"),
        1,
        "permission denied",
        "permissions",
    )


def test_debug_prints_the_traceback_too(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    args = (
        "export",
        "--url",
        url,
        "--client-id",
        "c",
        "--client-secret",
        "s",
        "-o",
        str(tmp_path / "x.ndjson"),
    )
    for out in (
        cli("--debug", *args),
        cli(*args, "--debug"),
        cli(*args, env={"OPENPANEL_SERVER_DEBUG": "1"}),
    ):
        assert out.returncode == 1
        assert "Traceback (most recent call last)" in out.stderr
        assert "httpx.ConnectError" in out.stderr
        assert out.stderr.splitlines()[-1].startswith(f"error: export: cannot reach {url}")


def test_an_unexpected_exception_is_one_line_too(capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> int:
        raise RuntimeError("disk on fire\nsecond line")

    assert run_command(boom, "project list", debug=False) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: project list: unexpected error: RuntimeError: disk on fire second line "
        "(hint: rerun with --debug for the traceback, and report it)\n"
    )
    assert run_command(boom, "project list", debug=True) == 1
    assert "Traceback" in capsys.readouterr().err

    def refused() -> int:
        raise CliError("thing", "went wrong", "do this")

    assert run_command(refused, "x", debug=False) == 1
    assert capsys.readouterr().err == "error: thing: went wrong (hint: do this)\n"


def test_ctrl_c_is_one_line_and_exit_130(tmp_path: Path) -> None:
    # A server that accepts the connection and never answers: the export waits for it.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "openpanel_server",
                "export",
                "--url",
                url,
                "--client-id",
                "c",
                "--client-secret",
                "s",
                "-o",
                str(tmp_path / "events.ndjson"),
            ],
            stderr=subprocess.PIPE,
            text=True,
            env=environ,
        )
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob(".events.ndjson.*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        conn, _ = silent.accept()  # the export connected and sent its request
        with conn:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert err == (
        "error: export: interrupted (hint: the partial file was removed; run the export again)\n"
    )
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ with a running server


def test_the_store_of_a_running_server_is_refused(server: RunningServer) -> None:
    data = str(server.data_dir)
    one_line(cli("--data-dir", data, "migrate"), 1, "a server is running on", "stop the server")
    one_line(
        cli("--data-dir", data, "serve", "--port", str(free_port())),
        1,
        "another server is running on",
        "--data-dir",
    )
    # The metadata commands work beside it (SQLite takes several processes).
    assert cli("--data-dir", data, "project", "list").returncode == 0


def test_a_port_in_use(server: RunningServer, tmp_path: Path) -> None:
    port = server.url.rsplit(":", 1)[1]
    one_line(
        cli("--data-dir", str(tmp_path), "serve", "--port", port),
        1,
        f"port {port} on 127.0.0.1 is in use",
        "--port",
    )


def test_refused_credentials(server: RunningServer, tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson"
    write = ("--client-id", server.client_id, "--client-secret", server.secret)
    one_line(
        cli("export", "--url", server.url, *write, "-o", str(out)),
        1,
        "the server answered 401",
        "read or root client",
    )
    wrong = ("--client-id", server.client_id, "--client-secret", "sec_wrong")
    source = tmp_path / "events.ndjson"
    source.write_text('{"id": "e1", "name": "signup"}\n')
    one_line(
        cli("import", str(source), "--url", server.url, *wrong),
        1,
        "the server answered 401",
        "--client-secret",
    )
    assert not out.exists()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):  # pyright: ignore[reportPrivateUsage]
            choices: dict[str, argparse.ArgumentParser] = action.choices  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            return dict(choices)
    return {}


def test_every_command_documents_every_option() -> None:
    """``--help`` of every (sub)command describes it, shows examples and every option."""

    def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
        yield parser
        for child in subcommands(parser).values():
            yield from walk(child)

    seen = 0
    for parser in walk(build_parser()):
        seen += 1
        text = parser.format_help()
        assert parser.description, parser.prog
        assert "examples:\n  openpanel-server" in text, parser.prog
        for name in subcommands(parser):
            assert f"    {name}" in text, (parser.prog, name)
        for action in parser._actions:
            if (
                action.help == argparse.SUPPRESS
                or action.dest == "command"
                or (action.dest == "action")
            ):
                continue
            assert action.help, (parser.prog, action.dest)
            for option in action.option_strings:
                assert option in text, (parser.prog, option)
            if not action.option_strings:
                assert str(action.metavar or action.dest) in text, (parser.prog, action.dest)
    assert seen == 23  # the top level, 7 commands, 15 subcommands
    serve = cli("serve", "--help")
    assert serve.returncode == 0 and "--ingest-workers N" in serve.stdout
    assert "-1 = auto" in serve.stdout and "0 = off" in serve.stdout
