"""MkDocs hook: render the configuration and command-line reference from the code.

A page asks for a table with a marker on a line of its own, such as
``<!-- reference: server-cli -->``; the hook replaces it with HTML built from the objects that
define the options (the server's ``argparse`` parser and ``Settings`` dataclass, the core
client's signature and docstring, ``BridgeConfig``'s fields, the Django, Flask and ASGI extras).
Nothing is copied by hand, so the tables cannot drift from the code. An unknown marker, or an
option the code does not describe, fails the build.
"""

# pyright: reportPrivateUsage=false
# (the command-line reference reads argparse's parser structure, which argparse keeps private)
from __future__ import annotations

import argparse
import dataclasses
import html
import inspect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from griffe import Docstring, DocstringSectionAttributes, DocstringSectionParameters
from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- reference: ([a-z0-9-]+) -->$", re.MULTILINE)
_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc):`~?([^`]+)`")

# Client arguments that ``ClientCore``'s docstring does not describe (they differ between the
# threaded and the asyncio client); used when the client class has no ``Args:`` entry.
CORE_EXTRA = {
    "transport": (
        "What sends the requests: an object with ``send(Request) -> Response`` and ``close()``. "
        "``OpenPanel``: ``HttpxTransport`` by default, or ``RequestsTransport``; "
        "``AsyncOpenPanel``: an ``AsyncTransport``, ``AsyncHttpxTransport`` by default."
    ),
}

# Keys that exist only as names in the code (no docstring describes them one by one). The
# hook fails when the code's set of keys and these descriptions differ.
FLASK_EXTRA = {
    "OPENPANEL_CLIENT_OPTIONS": (
        "{}",
        "Extra keyword options for the app's ``openpanel_core.OpenPanel`` (``flush_interval``, "
        "``persist_path``, ``before_send``, ``transport``, ...).",
    ),
    "OPENPANEL_REGISTER_BLUEPRINT": (
        "True",
        "Register the blueprint serving ``op.js`` and the proxy at ``OPENPANEL_PREFIX``; False "
        "to mount nothing.",
    ),
}


def _inline(text: str) -> str:
    """Docstring text to HTML: ``code`` and :role:`target` become <code>, the rest is escaped."""
    text = " ".join(text.split())
    text = _ROLE.sub(lambda m: f"``{m.group(1)}``", text)
    out: list[str] = []
    pos = 0
    for match in _CODE.finditer(text):
        out.append(html.escape(text[pos : match.start()]))
        out.append(f"<code>{html.escape(match.group(1) or match.group(2))}</code>")
        pos = match.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _code(value: object) -> str:
    return f"<code>{html.escape(str(value))}</code>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


_SECTIONS: dict[str, type[DocstringSectionParameters | DocstringSectionAttributes]] = {
    "parameters": DocstringSectionParameters,
    "attributes": DocstringSectionAttributes,
}


def _described(obj: object, kind: str) -> dict[str, str]:
    """Name -> description from a Google-style section of ``obj``'s docstring.

    ``kind`` is ``"parameters"`` (``Args:``) or ``"attributes"`` (``Attributes:``).
    """
    doc = Docstring(inspect.getdoc(obj) or "", parser="google")
    found: dict[str, str] = {}
    for section in doc.parse(warnings=False):
        if isinstance(section, _SECTIONS[kind]):
            for item in section.value:
                found[item.name.lstrip("*")] = item.description
    return found


def _default(field: dataclasses.Field[Any]) -> str:
    if field.default is not dataclasses.MISSING:
        value: object = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, Path):
        return _code(str(value))
    if isinstance(value, Mapping):
        return _code(dict(cast("Mapping[str, Any]", value)))
    return _code(repr(value))


def _dataclass_rows(cls: type, name: Callable[[str], str]) -> list[list[str]]:
    described = _described(cls, "attributes")
    rows: list[list[str]] = []
    for f in dataclasses.fields(cls):
        if f.name not in described:
            raise PluginError(f"{cls.__qualname__}.{f.name} has no description in its docstring")
        rows.append([name(f.name), _code(f.type), _default(f), _inline(described[f.name])])
    return rows


# --------------------------------------------------------------------------- the server


def _server_parser() -> argparse.ArgumentParser:
    from openpanel_server._cli import build_parser

    return build_parser()


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action  # pyright: ignore[reportUnknownVariableType]
    return None


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterable[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    sub = _subparsers(parser)
    if sub is None:
        return
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    for name, child in sub.choices.items():
        yield (*path, name), child, helps.get(name, "")
        yield from _commands(child, (*path, name))


def _option_rows(parser: argparse.ArgumentParser) -> list[list[str]]:
    rows: list[list[str]] = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.option_strings:
            names = ", ".join(action.option_strings)
            if action.nargs != 0:
                metavar = action.metavar
                names += " " + (metavar if isinstance(metavar, str) else action.dest.upper())
        else:
            names = str(action.metavar or action.dest)
        notes: list[str] = []
        if action.help:
            notes.append(_inline(action.help))
        if action.choices:
            notes.append("one of " + ", ".join(_code(c) for c in action.choices))
        if action.default not in (None, False, argparse.SUPPRESS):
            notes.append(f"default {_code(action.default)}")
        if action.required and action.option_strings:
            notes.append("required")
        append = isinstance(action, argparse._AppendAction)
        if append and "repeatable" not in (action.help or ""):
            notes.append("repeatable")
        rows.append([_code(names), "; ".join(notes)])
    return rows


def server_cli() -> str:
    """Every command and subcommand of ``openpanel-server`` with its options."""
    parser = _server_parser()
    parts = [
        f"<p>{_inline(parser.description or '')}</p>",
        _table(["global option", "meaning"], _option_rows(parser)),
    ]
    for path, child, help_text in _commands(parser):
        if _subparsers(child) is not None and not _option_rows(child):
            parts.append(f"<h3>openpanel-server {' '.join(path)}</h3><p>{_inline(help_text)}</p>")
            continue
        parts.append(f"<h3>openpanel-server {' '.join(path)}</h3>")
        parts.append(f"<p>{_inline(child.description or help_text)}</p>")
        rows = _option_rows(child)
        if rows:
            parts.append(_table(["argument", "meaning"], rows))
    return "\n".join(parts)


def server_settings() -> str:
    """Every ``Settings`` field with its environment variable and ``serve`` flag."""
    from openpanel_server._config import Settings

    parser = _server_parser()
    flags: dict[str, str] = {}
    for action in parser._actions:
        flags.update({action.dest: action.option_strings[0]} if action.option_strings else {})
    for path, child, _ in _commands(parser):
        if path == ("serve",):
            for action in child._actions:
                if action.option_strings:
                    flags[action.dest] = action.option_strings[0]
    rows: list[list[str]] = []
    for row, f in zip(
        _dataclass_rows(Settings, lambda n: _code(f"OPENPANEL_SERVER_{n.upper()}")),
        dataclasses.fields(Settings),
        strict=True,
    ):
        flag = flags.get(f.name) or flags.get(f.name.removesuffix("s"))
        rows.append([row[0], _code(flag) if flag else "(environment only)", *row[1:]])
    return _table(["environment variable", "flag", "type", "default", "meaning"], rows)


# --------------------------------------------------------------------------- the core client


def core_options() -> str:
    """Every keyword of ``OpenPanel(...)`` / ``AsyncOpenPanel(...)``."""
    from openpanel_core import ClientOptions, OpenPanel
    from openpanel_core._base import ClientCore

    # The options are described once, on the public ``ClientOptions``; the client id and
    # secret in the client's own ``Args:``.
    described = {**_described(ClientCore, "parameters"), **_described(ClientOptions, "attributes")}
    keywords = {
        name
        for name, param in inspect.signature(ClientCore.__init__).parameters.items()
        if param.kind is param.KEYWORD_ONLY
    }
    if keywords != set(ClientOptions.__annotations__):
        raise PluginError(
            f"ClientOptions and the client's keywords differ: {sorted(keywords ^ set(ClientOptions.__annotations__))}"
        )
    client_params = inspect.signature(OpenPanel.__init__).parameters
    rows: list[list[str]] = []
    for name, param in inspect.signature(ClientCore.__init__).parameters.items():
        if name == "self":
            continue
        if name not in described:
            raise PluginError(f"client option {name!r} is not described on ClientOptions")
        rows.append(
            [
                _code(name),
                _code(param.annotation),
                "required" if param.default is param.empty else _code(repr(param.default)),
                _inline(described[name]),
            ]
        )
    extra = [n for n in client_params if n not in ("self", "args", "kwargs", "options")]
    extra = [n for n in extra if n not in inspect.signature(ClientCore.__init__).parameters]
    if extra:
        doc = _described(OpenPanel, "parameters")
        for name in extra:
            param = client_params[name]
            default = "required" if param.default is param.empty else _code(repr(param.default))
            rows.append([_code(name), _code(param.annotation), default, _inline(doc.get(name, ""))])
    return _table(["option", "type", "default", "meaning"], rows)


# --------------------------------------------------------------------------- integrations


def bridge_settings() -> str:
    """``BridgeConfig``: the settings every web integration shares, with each one's key."""
    from openpanel_web_bridge import BridgeConfig

    rows = _dataclass_rows(BridgeConfig, _code)
    keys = [
        f"{_code(f'OPENPANEL[{f.name!r}]')}<br>{_code('OPENPANEL_' + f.name.upper())}"
        for f in dataclasses.fields(BridgeConfig)
    ]
    return _table(
        ["setting", "Django / Flask key", "type", "default", "meaning"],
        [[row[0], key, *row[1:]] for row, key in zip(rows, keys, strict=True)],
    )


def django_extra() -> str:
    """The Django-only keys of ``settings.OPENPANEL`` (described in ``_settings``'s docstring)."""
    from openpanel_django import _settings

    text = inspect.getdoc(_settings) or ""
    described: dict[str, str] = {}
    for match in re.finditer(r"^``([A-Z_]+)``\n((?:    .*\n?)+)", text, re.MULTILINE):
        described[match.group(1)] = match.group(2)
    rows: list[list[str]] = []
    for f in dataclasses.fields(_settings.DjangoOptions):
        key = f.name.upper()
        if key not in described:
            raise PluginError(f"openpanel_django._settings does not describe {key}")
        default = _default(f)
        if callable(f.default):
            default = _code(f"openpanel_django.{f.default.__name__}")
        rows.append([_code(f"OPENPANEL[{key!r}]"), default, _inline(described[key])])
    if len(rows) != len(described):
        raise PluginError("openpanel_django._settings describes a key DjangoOptions lacks")
    return _table(["key", "default", "meaning"], rows)


def flask_extra() -> str:
    """The Flask-only config keys (``EXTRA_KEYS``)."""
    from openpanel_flask._config import EXTRA_KEYS

    if set(EXTRA_KEYS) != set(FLASK_EXTRA):
        raise PluginError(
            f"openpanel_flask EXTRA_KEYS {sorted(EXTRA_KEYS)} differ from the hook's "
            f"descriptions {sorted(FLASK_EXTRA)}: describe the new key in docs/hooks/reference.py"
        )
    rows = [
        [_code(key), _code(FLASK_EXTRA[key][0]), _inline(FLASK_EXTRA[key][1])]
        for key in sorted(EXTRA_KEYS)
    ]
    return _table(["key", "default", "meaning"], rows)


def _init_rows(cls: type, skip: Sequence[str]) -> list[list[str]]:
    described = _described(cls, "parameters")
    rows: list[list[str]] = []
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", *skip):
            continue
        if param.kind is param.VAR_KEYWORD:
            name = f"**{name}"
            default = ""
        else:
            default = "" if param.default is param.empty else _code(repr(param.default))
        text = described.get(name.lstrip("*"))
        if text is None:
            raise PluginError(f"{cls.__qualname__} argument {name!r} is not in its docstring")
        rows.append([_code(name), default, _inline(text)])
    return rows


def asgi_middleware() -> str:
    """``OpenPanelMiddleware``'s own arguments (the rest are ``BridgeConfig`` fields)."""
    from openpanel_asgi import OpenPanelMiddleware

    return _table(["argument", "default", "meaning"], _init_rows(OpenPanelMiddleware, ["app"]))


def flask_extension() -> str:
    """``openpanel_flask.OpenPanel(app, client=..., identify=...)``."""
    from openpanel_flask import OpenPanel

    return _table(["argument", "default", "meaning"], _init_rows(OpenPanel, []))


# --------------------------------------------------------------------------- the browser package

_JS_CORE = Path(__file__).resolve().parents[2] / "packages" / "js" / "src" / "core.ts"
_TS_MEMBER = re.compile(
    r"/\*\*(?P<doc>.*?)\*/\s*(?P<name>\w+)(?P<opt>\??)(?P<rest>[:(][^;]*);", re.S
)


def _jsdoc_line(line: str) -> str:
    line = line.strip()
    return line[1:].strip() if line.startswith("*") else line


def _ts_interface(name: str) -> list[tuple[str, str, str]]:
    """(member, signature, JSDoc text) of ``export interface <name>`` in the package's core."""
    source = _JS_CORE.read_text(encoding="utf-8")
    match = re.search(rf"export interface {name} \{{(.*?)\n\}}", source, re.S)
    if match is None:
        raise PluginError(f"no interface {name} in {_JS_CORE}")
    body = match.group(1)
    members = _TS_MEMBER.findall(body)
    declared = re.findall(r"^  (\w+)\??[:(]", body, re.M)
    if [m[1] for m in members] != declared:
        raise PluginError(f"{name}: every member needs a /** ... */ comment ({declared})")
    return [
        (m_name, f"{m_name}{opt}{rest}", " ".join(_jsdoc_line(ln) for ln in doc.splitlines()))
        for doc, m_name, opt, rest in members
    ]


def browser_options() -> str:
    """The ``init`` options of the browser script and of ``createOpenPanel`` (TypeScript)."""
    rows = [
        [_code(member), _code(sig.split(":", 1)[1].strip()), _inline(doc)]
        for member, sig, doc in _ts_interface("OpenPanelOptions")
    ]
    return _table(["option", "type", "meaning"], rows)


def browser_methods() -> str:
    """The methods of the browser client (``op.track(...)`` or ``op('track', ...)``)."""
    rows = [[_code(sig), _inline(doc)] for _, sig, doc in _ts_interface("OpenPanel")]
    return _table(["method", "what it does"], rows)


def cluster_ddl() -> str:
    """The ``CREATE TABLE`` statements of the ``events`` table in the cluster layout."""
    from openpanel_server._store._schema import EVENTS, create_table_statements

    sql = ";\n\n".join(create_table_statements(EVENTS, "cluster")) + ";"
    return f'<pre><code class="language-sql">{html.escape(sql)}</code></pre>'


RENDERERS: dict[str, Callable[[], str]] = {
    "browser-options": browser_options,
    "browser-methods": browser_methods,
    "cluster-ddl": cluster_ddl,
    "server-cli": server_cli,
    "server-settings": server_settings,
    "core-options": core_options,
    "bridge-settings": bridge_settings,
    "django-extra": django_extra,
    "flask-extra": flask_extra,
    "flask-extension": flask_extension,
    "asgi-middleware": asgi_middleware,
}


def render(name: str) -> str:
    """The HTML for one marker (raises ``PluginError`` for an unknown one)."""
    renderer = RENDERERS.get(name)
    if renderer is None:
        raise PluginError(f"unknown reference marker {name!r} (known: {sorted(RENDERERS)})")
    return renderer()


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """MkDocs event: replace every marker on the page."""
    return MARKER.sub(lambda m: render(m.group(1)), markdown)
