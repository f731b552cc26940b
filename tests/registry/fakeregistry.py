"""An in-memory OCI distribution registry behind httpx.MockTransport, for unit tests.

It implements just enough of the protocol (manifests, blobs, uploads, tags, Basic and
Bearer auth) and can inject faults. The real-server tests use the real registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

HOST = "registry.test"
ERRORS = {
    401: "UNAUTHORIZED",
    404: "MANIFEST_UNKNOWN",
}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    auth: str | None = None  # None, "basic" or "bearer"
    username: str = "alice"
    password: str = "s3cret-pw"
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, bytearray] = field(default_factory=dict)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    token_requests: list[list[str]] = field(default_factory=list)
    faults: list[httpx.Response] = field(default_factory=list)
    fault_match: Callable[[httpx.Request], bool] = lambda request: True
    alter_body: Callable[[bytes], bytes] | None = None
    head_digest: bool = True
    token_expires_in: int = 300
    mountable: bool = True
    seen_authorization: list[str | None] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # ------------------------------------------------------------------ seeding

    def add_blob(self, data: bytes) -> str:
        digest = digest_of(data)
        self.blobs[digest] = data
        return digest

    def add_manifest(self, repo: str, tag: str | None, raw: bytes, media_type: str) -> str:
        digest = digest_of(raw)
        self.manifests[(repo, digest)] = (raw, media_type)
        if tag:
            self.manifests[(repo, tag)] = (raw, media_type)
        return digest

    def add_image(self, repo: str, tag: str, payload: bytes = b"layer") -> str:
        config = self.add_blob(b'{"architecture":"amd64","os":"linux"}' + payload)
        layer = self.add_blob(payload)
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": len(self.blobs[config]),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer,
                    "size": len(payload),
                }
            ],
        }
        raw = json.dumps(manifest, indent=3).encode()  # odd spacing: must stay byte-exact
        return self.add_manifest(repo, tag, raw, "application/vnd.oci.image.manifest.v1+json")

    # ------------------------------------------------------------------ protocol

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.counts[(request.method, path)] += 1
        if path == "/token":
            return self._token(request)
        if self.faults and self.fault_match(request):
            return self.faults.pop(0)
        if path.startswith("/v2/"):
            denied = self._check_auth(request)
            if denied is not None:
                return denied
        response = self._route(request)
        if self.alter_body is not None and response.content:
            altered = self.alter_body(response.content)
            headers = dict(response.headers)
            headers["Content-Length"] = str(len(altered))
            return httpx.Response(response.status_code, headers=headers, content=altered)
        return response

    def _check_auth(self, request: httpx.Request) -> httpx.Response | None:
        header = request.headers.get("Authorization")
        self.seen_authorization.append(header)
        if self.auth is None:
            return None
        if self.auth == "basic":
            expected = (
                "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            )
            if header == expected:
                return None
            return _error(401, "UNAUTHORIZED", {"WWW-Authenticate": 'Basic realm="fake"'})
        if header and header.startswith("Bearer tok-"):
            return None
        challenge = f'Bearer realm="https://{HOST}/token",service="fake",scope="repository:x:pull"'
        return _error(401, "UNAUTHORIZED", {"WWW-Authenticate": challenge})

    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":  # OAuth2 refresh-token grant (identity tokens)
            from urllib.parse import parse_qs

            form = {k: v[0] for k, v in parse_qs(request.read().decode()).items()}
            self.token_requests.append(form.get("scope", "").split())
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != (
                "refresh-ok"
            ):
                return httpx.Response(401, json={"details": "bad refresh token"})
            return httpx.Response(200, json={"access_token": "tok-oauth", "expires_in": 60})
        scopes = request.url.params.get_list("scope")
        self.token_requests.append(scopes)
        header = request.headers.get("Authorization")
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if header != expected:
            return httpx.Response(401, json={"details": "bad credentials"})
        body = {"token": f"tok-{len(self.token_requests)}", "expires_in": self.token_expires_in}
        return httpx.Response(200, json=body)

    def _route(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if match := re.fullmatch(r"/v2/(.+)/blobs/uploads/(.*)", path):
            return self._upload(request, match.group(1), match.group(2))
        if match := re.fullmatch(r"/v2/(.+)/manifests/(.+)", path):
            return self._manifest(request, match.group(1), match.group(2))
        if match := re.fullmatch(r"/v2/(.+)/blobs/(.+)", path):
            blob = self.blobs.get(match.group(2))
            if blob is None:
                return _error(404, "BLOB_UNKNOWN")
            headers = {"Docker-Content-Digest": match.group(2), "Content-Length": str(len(blob))}
            return httpx.Response(200, headers=headers, content=b"" if method == "HEAD" else blob)
        if match := re.fullmatch(r"/v2/(.+)/tags/list", path):
            repo = match.group(1)
            tags = sorted(
                ref for (r, ref) in self.manifests if r == repo and not ref.startswith("sha256:")
            )
            if not tags:
                return _error(404, "NAME_UNKNOWN")
            n = int(request.url.params.get("n", "1000"))
            last = request.url.params.get("last")
            if last:
                tags = [t for t in tags if t > last]
            page, rest = tags[:n], tags[n:]
            headers = {}
            if rest:
                headers["Link"] = f'</v2/{repo}/tags/list?n={n}&last={page[-1]}>; rel="next"'
            return httpx.Response(200, headers=headers, json={"name": repo, "tags": page})
        return _error(404, "NAME_UNKNOWN")

    def _manifest(self, request: httpx.Request, repo: str, ref: str) -> httpx.Response:
        if request.method == "PUT":
            raw = request.read()
            media_type = request.headers["Content-Type"]
            document = json.loads(raw)
            for desc in [document.get("config"), *document.get("layers", [])]:
                if desc and desc["digest"] not in self.blobs:
                    return _error(400, "MANIFEST_BLOB_UNKNOWN")
            digest = digest_of(raw)
            if ref.startswith("sha256:") and ref != digest:
                return _error(400, "DIGEST_INVALID")
            self.add_manifest(repo, None if ref.startswith("sha256:") else ref, raw, media_type)
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        entry = self.manifests.get((repo, ref))
        if entry is None:
            return _error(404, "MANIFEST_UNKNOWN")
        raw, media_type = entry
        headers = {"Content-Type": media_type, "Content-Length": str(len(raw))}
        if self.head_digest or request.method == "GET":
            headers["Docker-Content-Digest"] = digest_of(raw)
        if request.method == "HEAD":
            return httpx.Response(200, headers=headers)
        return httpx.Response(200, headers=headers, content=raw)

    def _upload(self, request: httpx.Request, repo: str, session: str) -> httpx.Response:
        method = request.method
        if method == "POST" and not session:
            mount = request.url.params.get("mount")
            if mount and self.mountable and mount in self.blobs:
                return httpx.Response(201, headers={"Docker-Content-Digest": mount})
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = bytearray()
            location = f"/v2/{repo}/blobs/uploads/{upload_id}?_state=abc"
            return httpx.Response(202, headers={"Location": location, "Range": "0-0"})
        buffer = self.uploads.get(session)
        if buffer is None:
            return _error(404, "BLOB_UPLOAD_UNKNOWN")
        if method == "DELETE":
            del self.uploads[session]
            return httpx.Response(204)
        body = request.read()
        if method == "PATCH":
            content_range = request.headers.get("Content-Range")
            if content_range:
                start = int(content_range.split("-")[0])
                if start != len(buffer):
                    return _error(416, "BLOB_UPLOAD_INVALID")
            buffer += body
            location = f"/v2/{repo}/blobs/uploads/{session}?_state=n{len(buffer)}"
            return httpx.Response(
                202, headers={"Location": location, "Range": f"0-{len(buffer) - 1}"}
            )
        if method == "PUT":
            buffer += body
            digest = request.url.params.get("digest")
            if digest != digest_of(bytes(buffer)):
                return _error(400, "DIGEST_INVALID")
            self.blobs[digest] = bytes(buffer)
            del self.uploads[session]
            return httpx.Response(201, headers={"Docker-Content-Digest": digest})
        return _error(405, "UNSUPPORTED")


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}
    return httpx.Response(status, headers=headers, json=body)
