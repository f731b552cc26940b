"""Where the engine is: ``DOCKER_HOST`` (+ ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``),
else the Docker CLI context (``DOCKER_CONTEXT``, else ``currentContext`` in
``~/.docker/config.json``), else the default socket. docker-py's own helpers read both,
so the rules are the CLI's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_HOST", "EngineAddress", "resolve_address"]

DEFAULT_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True, slots=True)
class EngineAddress:
    host: str
    source: str  # "argument" | "DOCKER_HOST" | "context <name>" | "default"
    tls: Any = None  # docker.tls.TLSConfig when the address needs TLS


def resolve_address(
    docker_host: str | None = None, environ: Mapping[str, str] | None = None
) -> EngineAddress:
    from docker.context import ContextAPI
    from docker.utils import kwargs_from_env

    env = dict(os.environ if environ is None else environ)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    if env.get("DOCKER_HOST"):
        kwargs = kwargs_from_env(environment=env)
        source = "argument" if docker_host else "DOCKER_HOST"
        return EngineAddress(host=str(kwargs["base_url"]), source=source, tls=kwargs.get("tls"))
    name = env.get("DOCKER_CONTEXT")
    try:
        kwargs = ContextAPI.kwargs_from_context(name=name, environment=env)
    except Exception as exc:  # a broken context store: say which context
        from reprobuild.engine.errors import EngineError

        raise EngineError(f"cannot read Docker context {name or 'current'}: {exc}") from None
    host = kwargs.get("base_url")
    if host:
        context = name or ContextAPI.get_current_context().Name
        if context != "default":
            return EngineAddress(host=str(host), source=f"context {context}", tls=kwargs.get("tls"))
    return EngineAddress(host=DEFAULT_HOST, source="default")
