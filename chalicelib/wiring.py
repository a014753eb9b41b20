"""Declared dependencies: how an entry point receives what the composition root built.

An entry point (a route, a handler, a command) names each service it uses as a keyword-only
parameter whose default is ``Service("<attribute of bootstrap.Container>")``::

    @endpoint(ledger_bp, "POST", "/v1/tenants/{tenant_id}/sales", ...)
    def record_sale(tenant_id, caller, body, *, ledger=Service("ledger")): ...

``routing.endpoint`` (routes) and ``inject`` (handlers, commands) fill those parameters at each
call from ``bootstrap.container()``, built once per process and lazily, so declaring costs nothing
at import (cold start). A caller that passes one itself (a test with a fake) keeps its own.
tests/unit/test_architecture.py checks that every name is an attribute of the Container and that
no entry point fetches a service any other way (decision 0029).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class Service:
    """The marker of a dependency: ``name`` is the attribute of ``bootstrap.Container`` to pass."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Service({self.name!r})"

    def __getattr__(self, attr: str) -> Any:
        # Only reached when the marker itself is used as the service: say so rather than fail vaguely.
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise AttributeError(f"{self!r} was not injected (.{attr}): call through routing.endpoint or "
                             "wiring.inject, or pass the service as a keyword argument")


def services_of(fn: Callable[..., Any]) -> dict[str, str]:
    """``{parameter: Container attribute}`` of ``fn``'s ``Service`` defaults. A ``Service`` default
    of a positional parameter is a TypeError: positional arguments would shift onto it."""
    if any(isinstance(d, Service) for d in getattr(fn, "__defaults__", None) or ()):
        raise TypeError(f"{fn.__qualname__}: a Service(...) default must be keyword-only (after `*`)")
    return {p: d.name for p, d in (getattr(fn, "__kwdefaults__", None) or {}).items() if isinstance(d, Service)}


def provide(wanted: dict[str, str], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the services of ``wanted`` the caller did not pass, from the composition root."""
    missing = [p for p in wanted if p not in kwargs]
    if missing:
        from chalicelib import bootstrap

        root = bootstrap.container()
        for p in missing:
            kwargs[p] = getattr(root, wanted[p])
    return kwargs


def inject(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Call ``fn`` with its ``Service`` parameters filled in (handlers and commands; routes get
    the same from ``routing.endpoint``). Positional arguments pass through unchanged, so it sits
    under Chalice's decorators: ``(event, context)`` of a function, ``(event)`` of a schedule or
    stream, ``(auth_request)`` of an authorizer, ``(args)`` of a command."""
    wanted = services_of(fn)
    if not wanted:
        raise TypeError(f"{fn.__qualname__}: @inject on a function without any Service(...) parameter")

    @functools.wraps(fn)
    def injected(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **provide(wanted, kwargs))

    return injected
