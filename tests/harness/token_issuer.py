"""A Docker token-protocol issuer running in the test process.

Implements ``GET <realm>?service=…&scope=…&scope=…`` with optional Basic auth and answers
``{"token", "access_token", "expires_in", "issued_at"}``. Tokens are real RS256 JWTs with the
signing certificate in the ``x5c`` header, which the distribution registry verifies against its
``rootcertbundle`` (docs: distribution ``docs/spec/auth/jwt.md``, ``token.md``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt

from tests.harness.certs import CertPair, make_self_signed

ALL_ACTIONS = ("pull", "push", "delete", "*")


@dataclass(frozen=True)
class Scope:
    """One requested scope, e.g. ``repository:library/python:pull,push``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Scope:
        # The name may itself contain ':' (a registry host with a port), so split on the ends.
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        return cls(kind, name, tuple(a for a in actions.split(",") if a))


@dataclass(frozen=True)
class TokenRequest:
    """What the issuer received (for assertions on the client's scope requests)."""

    username: str | None  # None: anonymous
    service: str
    scopes: tuple[str, ...]
    granted: bool  # False: credentials rejected (401)


class TokenIssuer:
    """Issue JWTs for users added with :meth:`add_user`; records every request."""

    def __init__(
        self,
        workdir: Path,
        *,
        service: str = "reprobuild-test-registry",
        issuer: str = "reprobuild-test-issuer",
        expires_in: int = 300,
        anonymous_actions: tuple[str, ...] = (),
    ) -> None:
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.anonymous_actions = anonymous_actions
        self.signing = make_self_signed(workdir, "token-signing")
        self.requests: list[TokenRequest] = []
        self._users: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def rootcertbundle(self) -> Path:
        return self.signing.cert_path

    def add_user(
        self, username: str, password: str, actions: tuple[str, ...] = ALL_ACTIONS
    ) -> None:
        """Allow ``username`` the given repository actions (intersected with what is asked)."""
        with self._lock:
            self._users[username] = (password, actions)

    def authenticate(self, username: str, password: str) -> tuple[str, ...] | None:
        with self._lock:
            entry = self._users.get(username)
        if entry is None or not secrets.compare_digest(entry[0], password):
            return None
        return entry[1]

    def record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def issue(
        self,
        subject: str,
        scopes: list[Scope],
        *,
        signing: CertPair | None = None,
        expires_in: int | None = None,
        audience: str | None = None,
    ) -> str:
        """A signed JWT granting ``scopes``; ``signing`` lets tests sign with a foreign key."""
        pair = signing or self.signing
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + (expires_in if expires_in is not None else self.expires_in),
            "nbf": now - 30,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [
                {"type": s.type, "name": s.name, "actions": list(s.actions)} for s in scopes
            ],
        }
        x5c = [base64.b64encode(pair.cert_der).decode()]
        return jwt.encode(claims, pair.key, algorithm="RS256", headers={"x5c": x5c})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _grant(scopes: list[Scope], allowed: tuple[str, ...]) -> list[Scope]:
    granted = []
    for scope in scopes:
        actions = tuple(a for a in scope.actions if a in allowed or "*" in allowed)
        if actions:
            granted.append(Scope(scope.type, scope.name, actions))
    return granted


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def _handler_for(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return  # keep pytest output clean

        def _reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="reprobuild-test-issuer"')
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/token":
                self._reply(404, {"details": "not found"})
                return
            query = parse_qs(parts.query)
            service = query.get("service", [""])[0]
            raw_scopes = tuple(query.get("scope", []))
            scopes = [Scope.parse(s) for s in raw_scopes]
            creds = _basic_credentials(self.headers.get("Authorization"))
            if creds is None:
                allowed: tuple[str, ...] | None = issuer.anonymous_actions
                username = None
            else:
                username = creds[0]
                allowed = issuer.authenticate(*creds)
            if allowed is None or (service and service != issuer.service):
                issuer.record(TokenRequest(username, service, raw_scopes, granted=False))
                self._reply(401, {"details": "incorrect username or password"})
                return
            issuer.record(TokenRequest(username, service, raw_scopes, granted=True))
            token = issuer.issue(username or "", _grant(scopes, allowed))
            issued_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._reply(
                200,
                {
                    "token": token,
                    "access_token": token,
                    "expires_in": issuer.expires_in,
                    "issued_at": issued_at,
                },
            )

    return Handler
