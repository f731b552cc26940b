"""A loopback reverse proxy in front of a registry that injects faults.

Faults (applied to requests for which ``match(method, path)`` is true, all by default, and
only to the first ``times`` of them when ``times`` is given): a delay before answering, a
replaced status with headers (e.g. 429 + Retry-After), an altered response body, or a
response cut after N body bytes (the connection is closed mid-body).

The client's ``Host`` header is forwarded, so the registry builds ``Location`` URLs that point
back at the proxy; ``X-Forwarded-Proto: http`` keeps them plain HTTP for a TLS upstream.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Headers that describe one hop, not the message (RFC 9110 §7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class Proxy:
    """A running fault proxy. ``counts`` is keyed by (method, path without query)."""

    def __init__(
        self,
        upstream: str,
        *,
        cut_after_bytes: int | None = None,
        delay_s: float = 0,
        alter_body: Callable[[bytes], bytes] | None = None,
        status_override: tuple[int, dict[str, str]] | None = None,
        match: Callable[[str, str], bool] | None = None,
        times: int | None = None,
    ) -> None:
        parts = urlsplit(upstream if "://" in upstream else f"http://{upstream}")
        self.upstream_tls = parts.scheme == "https"
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or (443 if self.upstream_tls else 80)
        self.cut_after_bytes = cut_after_bytes
        self.delay_s = delay_s
        self.alter_body = alter_body
        self.status_override = status_override
        self.match = match
        self.times = times
        self.counts: Counter[tuple[str, str]] = Counter()
        self.faulted: Counter[tuple[str, str]] = Counter()
        self.bytes_sent = 0
        self._faults_left = times
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.address}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def should_fault(self, method: str, path: str) -> bool:
        """Count the request and decide whether this one gets the fault."""
        with self._lock:
            self.counts[(method, path)] += 1
            if self.match is not None and not self.match(method, path):
                return False
            if self._faults_left is not None:
                if self._faults_left <= 0:
                    return False
                self._faults_left -= 1
            self.faulted[(method, path)] += 1
            return True

    def add_sent(self, n: int) -> None:
        with self._lock:
            self.bytes_sent += n

    def connect_upstream(self) -> http.client.HTTPConnection:
        if self.upstream_tls:
            # The proxy is a test fixture in front of a self-signed loopback registry.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                self.upstream_host, self.upstream_port, timeout=300, context=context
            )
        return http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=300)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _read_request_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size_line = handler.rfile.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _handler_for(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return  # keep pytest output clean

        def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)
                proxy.add_sent(len(body))

        def _handle(self) -> None:
            path = urlsplit(self.path).path
            faulty = proxy.should_fault(self.command, path)
            body = _read_request_body(self)
            if faulty and proxy.delay_s:
                time.sleep(proxy.delay_s)
            if faulty and proxy.status_override is not None:
                status, extra = proxy.status_override
                payload = json.dumps(
                    {"errors": [{"code": "INJECTED", "message": f"fault proxy {status}"}]}
                ).encode()
                headers = [("Content-Type", "application/json")]
                headers += [(k, v) for k, v in extra.items() if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(payload))))
                self._send(status, headers, payload)
                return
            status, headers, response_body = self._forward(body)
            if faulty and proxy.alter_body is not None and self.command != "HEAD":
                response_body = proxy.alter_body(response_body)
            if self.command != "HEAD":
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(response_body))))
            if faulty and proxy.cut_after_bytes is not None and self.command != "HEAD":
                self._send_cut(status, headers, response_body[: proxy.cut_after_bytes])
                return
            self._send(status, headers, response_body)

        def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
            conn = proxy.connect_upstream()
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                headers["X-Forwarded-Proto"] = "http"
                if body or self.command in ("PUT", "POST", "PATCH"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                return response.status, kept, data
            finally:
                conn.close()

        def _send_cut(self, status: int, headers: list[tuple[str, str]], partial: bytes) -> None:
            # Announce the full length, send only part of it, then drop the connection.
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(partial)
            self.wfile.flush()
            proxy.add_sent(len(partial))
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = _handle
        do_HEAD = _handle
        do_PUT = _handle
        do_POST = _handle
        do_PATCH = _handle
        do_DELETE = _handle

    return Handler
