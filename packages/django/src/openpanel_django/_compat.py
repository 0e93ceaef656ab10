"""Typed views of the few Django APIs this package calls (Django ships no type hints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.cache import caches
from django.core.checks import register as _register  # pyright: ignore[reportUnknownVariableType]
from django.core.signals import setting_changed as _setting_changed
from django.http import HttpRequest
from django.urls import reverse as _reverse  # pyright: ignore[reportUnknownVariableType]
from django.utils.module_loading import import_string as _import_string  # pyright: ignore[reportUnknownVariableType]
from django.utils.safestring import SafeString
from django.utils.safestring import mark_safe as _mark_safe  # pyright: ignore[reportUnknownVariableType]
from django.views.decorators.csrf import csrf_exempt as _csrf_exempt  # pyright: ignore[reportUnknownVariableType]

__all__ = [
    "cache_add",
    "cache_delete",
    "connect_setting_changed",
    "csrf_exempt",
    "header_items",
    "import_string",
    "mark_safe",
    "meta",
    "method",
    "raw_body",
    "register_check",
    "reverse",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def csrf_exempt(view: _F) -> _F:
    """``django.views.decorators.csrf.csrf_exempt``, typed."""
    return cast("_F", _csrf_exempt(view))


def mark_safe(text: str) -> SafeString:
    """``django.utils.safestring.mark_safe`` for a ``str``."""
    return cast("SafeString", _mark_safe(text))  # noqa: S308 (callers pass escaped HTML)


def reverse(name: str) -> str:
    """``django.urls.reverse`` of a view name without arguments."""
    return cast("str", _reverse(name))


def import_string(dotted_path: str) -> object:
    """``django.utils.module_loading.import_string``."""
    return cast("object", _import_string(dotted_path))


def register_check(check: Callable[..., Any], tag: str) -> None:
    """``django.core.checks.register`` with one tag."""
    _register(check, tag)


def connect_setting_changed(receiver: Callable[..., None], uid: str) -> None:
    """Connect ``receiver`` to the ``setting_changed`` signal."""
    _setting_changed.connect(receiver, dispatch_uid=uid)  # pyright: ignore[reportUnknownMemberType]


def meta(request: HttpRequest) -> dict[str, Any]:
    """``request.META``."""
    return cast("dict[str, Any]", request.META)  # pyright: ignore[reportUnknownMemberType]


def raw_body(request: HttpRequest) -> bytes:
    """``request.body`` (raises ``RequestDataTooBig`` over ``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""
    return cast("bytes", request.body)  # pyright: ignore[reportUnknownMemberType]


def header_items(request: HttpRequest) -> list[tuple[str, str]]:
    """The request headers as ``(lower-case name, value)`` pairs."""
    headers = cast("dict[str, str]", request.headers)
    return [(name.lower(), value) for name, value in headers.items()]


def cache_add(alias: str, key: str, timeout: float) -> bool:
    """``caches[alias].add(key, 1, timeout)``: False when the key exists already."""
    backend: Any = caches[alias]  # pyright: ignore[reportUnknownVariableType]
    return bool(backend.add(key, 1, timeout))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]


def cache_delete(alias: str, key: str) -> None:
    """``caches[alias].delete(key)``."""
    backend: Any = caches[alias]  # pyright: ignore[reportUnknownVariableType]
    backend.delete(key)  # pyright: ignore[reportUnknownMemberType]


def method(request: HttpRequest) -> str:
    """``request.method`` (upper case; ``"GET"`` when unset)."""
    return cast("str | None", request.method) or "GET"
