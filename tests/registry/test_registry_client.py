"""The registry client against an in-memory registry (httpx.MockTransport)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
from fakeregistry import HOST, FakeRegistry, digest_of

from reprobuild.registry.auth import Credentials
from reprobuild.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    RegistryClient,
    compute_digest,
)
from reprobuild.registry.errors import (
    BlobUnknownError,
    DigestMismatchError,
    ManifestUnknownError,
    RateLimitedError,
    RegistryAuthError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from reprobuild.registry.mirrors import RegistrySettings
from reprobuild.registry.reference import parse_reference


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_client(fake: FakeRegistry, sleeps: Sleeps, **kwargs: object) -> RegistryClient:
    creds = {HOST: Credentials(fake.username, fake.password)}
    options: dict[str, object] = {"credentials": creds, "sleep": sleeps, "backoff": 0.01}
    options.update(kwargs)
    return RegistryClient(transport=fake.transport(), **options)  # type: ignore[arg-type]


def ref(text: str) -> object:
    return parse_reference(f"{HOST}/{text}")


def test_resolve_uses_head_with_full_accept(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_image("team/app", "1.0")
    with make_client(fake, sleeps) as client:
        resolved = client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
    assert resolved.digest == digest
    assert resolved.pinned.familiar == f"{HOST}/team/app:1.0@{digest}"
    assert fake.counts[("HEAD", "/v2/team/app/manifests/1.0")] == 1
    assert fake.counts[("GET", "/v2/team/app/manifests/1.0")] == 0


def test_resolve_falls_back_to_get_and_verifies(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_image("team/app", "1.0")
    fake.head_digest = False
    with make_client(fake, sleeps) as client:
        assert client.resolve(parse_reference(f"{HOST}/team/app:1.0")).digest == digest
    assert fake.counts[("GET", "/v2/team/app/manifests/1.0")] == 1


def test_get_manifest_keeps_raw_bytes(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_image("team/app", "1.0")
    raw = fake.manifests[("team/app", digest)][0]
    with make_client(fake, sleeps) as client:
        manifest = client.get_manifest(parse_reference(f"{HOST}/team/app@{digest}"))
    assert manifest.raw == raw and b"   " in manifest.raw
    assert manifest.digest == digest == compute_digest(raw)
    assert manifest.config is not None and len(manifest.layers) == 1
    assert not manifest.is_index and manifest.children == ()


def test_altered_manifest_is_refused(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_image("team/app", "1.0")
    fake.alter_body = lambda body: body.replace(b"amd64", b"arm64") + b" "
    with make_client(fake, sleeps) as client, pytest.raises(DigestMismatchError) as info:
        client.get_manifest(parse_reference(f"{HOST}/team/app@{digest}"))
    assert digest in str(info.value) and "altered" in str(info.value)
    with make_client(fake, sleeps) as client, pytest.raises(DigestMismatchError):
        client.get_manifest(parse_reference(f"{HOST}/team/app:1.0"))  # header digest


def test_altered_blob_is_refused(fake: FakeRegistry, sleeps: Sleeps) -> None:
    blob = fake.add_blob(b"x" * 3000)
    fake.alter_body = lambda body: body[:-1] + b"y"
    with make_client(fake, sleeps) as client, pytest.raises(DigestMismatchError):
        client.get_blob(parse_reference(f"{HOST}/team/app"), blob)


def test_index_pin_is_index_digest_with_children(fake: FakeRegistry, sleeps: Sleeps) -> None:
    amd = fake.add_image("multi", "amd", b"amd64-layer")
    arm = fake.add_image("multi", "arm", b"arm64-layer")
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": d,
                "size": len(fake.manifests[("multi", d)][0]),
                "platform": {"os": "linux", "architecture": arch, **extra},
            }
            for d, arch, extra in [(amd, "amd64", {}), (arm, "arm64", {"variant": "v8"})]
        ],
    }
    raw = json.dumps(index).encode()
    index_digest = fake.add_manifest("multi", "latest", raw, OCI_INDEX)
    with make_client(fake, sleeps) as client:
        resolved = client.resolve(parse_reference(f"{HOST}/multi"), platforms=True)
    assert resolved.digest == index_digest and resolved.media_type == OCI_INDEX
    assert resolved.platform_digest("linux/amd64") == amd
    assert resolved.platform_digest("linux/arm64") == arm
    assert resolved.platform_digest("linux/arm64/v8") == arm
    assert resolved.platform_digest("linux/s390x") is None


def test_unknown_tag(fake: FakeRegistry, sleeps: Sleeps) -> None:
    fake.add_image("team/app", "1.0")
    with make_client(fake, sleeps) as client, pytest.raises(ManifestUnknownError) as info:
        client.resolve(parse_reference(f"{HOST}/team/app:2.0"))
    assert "MANIFEST_UNKNOWN" in str(info.value)
    assert f"{HOST}/team/app:2.0" in str(info.value)
    with make_client(fake, sleeps) as client, pytest.raises(ManifestUnknownError) as info:
        client.get_manifest(parse_reference(f"{HOST}/team/app:2.0"))
    assert "MANIFEST_UNKNOWN" in str(info.value)


def test_429_honours_retry_after(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_image("team/app", "1.0")
    fake.faults = [
        httpx.Response(429, headers={"Retry-After": "3"}),
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "1.5"}),
    ]
    with make_client(fake, sleeps) as client:
        assert client.resolve(parse_reference(f"{HOST}/team/app:1.0")).digest == digest
    assert sleeps[0] == 3.0 and sleeps[2] == 1.5
    assert 0 < sleeps[1] < 1


def test_429_gives_up_after_bounded_attempts(fake: FakeRegistry, sleeps: Sleeps) -> None:
    fake.add_image("team/app", "1.0")
    fake.faults = [httpx.Response(429, headers={"Retry-After": "100"}) for _ in range(10)]
    with (
        make_client(fake, sleeps, max_attempts=3, max_retry_after=5) as client,
        pytest.raises(RateLimitedError) as info,
    ):
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
    assert sleeps == [5, 5]
    assert "TOOMANYREQUESTS" in str(info.value) and "3 attempts" in str(info.value)


def test_connection_errors_are_retried_then_reported(sleeps: Sleeps) -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = RegistryClient(transport=httpx.MockTransport(refuse), sleep=sleeps, max_attempts=3)
    with client, pytest.raises(RegistryUnreachableError) as info:
        client.resolve(parse_reference(f"{HOST}/a:1"))
    assert len(calls) == 3 and len(sleeps) == 2
    assert f"cannot reach {HOST}" in str(info.value)


def test_cut_manifest_body_is_retried(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_image("team/app", "1.0")
    cuts = {"left": 2}

    class Cut(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"{"
            raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and cuts["left"]:
            cuts["left"] -= 1
            return httpx.Response(200, headers={"Docker-Content-Digest": digest}, stream=Cut())
        return fake.handle(request)

    client = RegistryClient(transport=httpx.MockTransport(handler), sleep=sleeps)
    with client:
        assert client.get_manifest(parse_reference(f"{HOST}/team/app:1.0")).digest == digest
    cuts["left"] = 99
    client = RegistryClient(transport=httpx.MockTransport(handler), sleep=sleeps, max_attempts=2)
    with client, pytest.raises(RegistryUnreachableError) as info:
        client.get_manifest(parse_reference(f"{HOST}/team/app:1.0"))
    assert "connection broke" in str(info.value) and "2 attempts" in str(info.value)


def test_basic_auth(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="basic")
    digest = fake.add_image("team/app", "1.0")
    with make_client(fake, sleeps) as client:
        assert client.resolve(parse_reference(f"{HOST}/team/app:1.0")).digest == digest
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
    # one challenge, then the header is sent up front
    assert fake.seen_authorization.count(None) == 1


def test_basic_auth_wrong_password(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="basic")
    fake.add_image("team/app", "1.0")
    client = RegistryClient(
        transport=fake.transport(),
        sleep=sleeps,
        credentials={HOST: Credentials("alice", "wrong-pw-123")},
    )
    with client, pytest.raises(RegistryAuthError) as info:
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
    assert "UNAUTHORIZED" in str(info.value) and "rejected" in str(info.value)
    assert "wrong-pw-123" not in str(info.value)


def test_basic_auth_without_credentials(sleeps: Sleeps) -> None:
    from reprobuild.registry.auth import DockerConfig

    fake = FakeRegistry(auth="basic")
    fake.add_image("team/app", "1.0")
    client = RegistryClient(transport=fake.transport(), sleep=sleeps, docker_config=DockerConfig())
    with client, pytest.raises(RegistryAuthError, match="no credentials are configured"):
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))


def test_bearer_flow_caches_tokens_per_scope(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="bearer")
    fake.add_image("team/app", "1.0")
    fake.add_image("team/other", "1.0")
    with make_client(fake, sleeps) as client:
        for _ in range(3):
            client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
        client.resolve(parse_reference(f"{HOST}/team/other:1.0"))
        client.upload_blob(parse_reference(f"{HOST}/team/app"), b"data")
    assert fake.token_requests == [
        ["repository:team/app:pull"],
        ["repository:team/other:pull"],
        ["repository:team/app:pull,push"],
    ]


def test_bearer_wrong_credentials(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="bearer")
    fake.add_image("team/app", "1.0")
    client = RegistryClient(
        transport=fake.transport(),
        sleep=sleeps,
        credentials={HOST: Credentials("alice", "nope-pw-456")},
    )
    with client, pytest.raises(RegistryAuthError) as info:
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
    assert "UNAUTHORIZED" in str(info.value) and "credentials were rejected" in str(info.value)


def test_credentials_never_logged_or_shown(
    sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeRegistry(auth="basic", password="hunter2-secret")
    fake.add_image("team/app", "1.0")
    creds = Credentials("alice", "hunter2-secret")
    client = RegistryClient(transport=fake.transport(), sleep=sleeps, credentials={HOST: creds})
    with client:
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
        with pytest.raises(ManifestUnknownError) as info:
            client.resolve(parse_reference(f"{HOST}/team/app:nope"))
    encoded = creds.basic_header().split()[1]
    for text in (caplog.text, str(info.value), repr(client), repr(creds), str(creds)):
        assert "hunter2-secret" not in text and encoded not in text
    assert "GET" in caplog.text or "HEAD" in caplog.text


def test_push_blob_and_manifest(fake: FakeRegistry, sleeps: Sleeps) -> None:
    target = parse_reference(f"{HOST}/team/new:v1")
    with make_client(fake, sleeps) as client:
        config = client.upload_blob(target, b'{"os":"linux"}')
        assert client.blob_exists(target, config)
        layer_data = [b"a" * 1000, b"b" * 2500, b"c"]
        layer = client.upload_blob(target, iter(layer_data), chunk_size=1024)
        streamed = client.upload_blob(target, iter([b"s" * 10, b"t" * 5]))
        assert streamed == digest_of(b"s" * 10 + b"t" * 5)
        assert fake.blobs[layer] == b"".join(layer_data)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": config,
                    "size": 14,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                        "digest": layer,
                        "size": 3501,
                    }
                ],
            },
            indent=3,
        ).encode()
        digest = client.put_manifest(target, manifest, DOCKER_MANIFEST)
        assert client.get_manifest(target).raw == manifest
        assert client.resolve(target).digest == digest == digest_of(manifest)
        assert client.get_blob(target, layer) == b"".join(layer_data)
        assert client.list_tags(target) == ["v1"]
    patches = [k for k in fake.counts if k[0] == "PATCH"]
    assert sum(fake.counts[k] for k in patches) == 5  # 4 chunks of <=1024 + 1 streamed


def test_upload_refuses_wrong_digest(fake: FakeRegistry, sleeps: Sleeps) -> None:
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    with make_client(fake, sleeps) as client:
        with pytest.raises(DigestMismatchError):
            client.upload_blob(parse_reference(f"{HOST}/r"), b"data", digest=wrong)
        with pytest.raises(DigestMismatchError):
            client.upload_blob(parse_reference(f"{HOST}/r"), iter([b"data"]), digest=wrong)
    assert wrong not in fake.blobs and not fake.uploads  # sessions cancelled


def test_upload_skips_existing_and_mounts(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digest = fake.add_blob(b"shared")
    with make_client(fake, sleeps) as client:
        assert client.upload_blob(parse_reference(f"{HOST}/r"), b"shared", digest=digest) == digest
        assert fake.counts[("POST", "/v2/r/blobs/uploads/")] == 0
        assert client.mount_blob(
            parse_reference(f"{HOST}/dst"), digest, parse_reference(f"{HOST}/src")
        )
        fake.mountable = False
        assert not client.mount_blob(
            parse_reference(f"{HOST}/dst"), digest, parse_reference(f"{HOST}/src")
        )
    assert not fake.uploads


def test_blob_unknown(fake: FakeRegistry, sleeps: Sleeps) -> None:
    with make_client(fake, sleeps) as client, pytest.raises(BlobUnknownError) as info:
        client.get_blob(parse_reference(f"{HOST}/r"), digest_of(b"missing"))
    assert "BLOB_UNKNOWN" in str(info.value)


def test_list_tags_paginates(fake: FakeRegistry, sleeps: Sleeps) -> None:
    for i in range(5):
        fake.add_image("r", f"t{i}")
    with make_client(fake, sleeps) as client:
        original = fake._route

        def small_pages(request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/tags/list") and "n=1000" in str(request.url):
                request = httpx.Request("GET", str(request.url).replace("n=1000", "n=2"))
            return original(request)

        fake._route = small_pages  # type: ignore[method-assign]
        assert client.list_tags(parse_reference(f"{HOST}/r")) == [f"t{i}" for i in range(5)]


def test_resolve_many_mixes_results_and_errors(fake: FakeRegistry, sleeps: Sleeps) -> None:
    digests = [fake.add_image("r", f"t{i}") for i in range(6)]
    refs = [parse_reference(f"{HOST}/r:t{i}") for i in range(6)]
    refs.append(parse_reference(f"{HOST}/r:missing"))
    with make_client(fake, sleeps) as client:
        results = client.resolve_many(refs)
    assert [getattr(r, "digest", None) for r in results[:6]] == digests
    assert isinstance(results[6], ManifestUnknownError)


def test_mirror_serves_reads_and_pins_keep_canonical_name(sleeps: Sleeps) -> None:
    fake = FakeRegistry()
    digest = fake.add_image("library/python", "3.11")
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return fake.handle(request)

    settings = RegistrySettings(mirrors={"docker.io": ("127.0.0.1:5999",)})
    client = RegistryClient(settings, transport=httpx.MockTransport(handler), sleep=sleeps)
    with client:
        resolved = client.resolve(parse_reference("python:3.11"))
        with pytest.raises(ManifestUnknownError) as info:
            client.resolve(parse_reference("python:missing"))
    assert resolved.pinned.familiar == f"python:3.11@{digest}"
    assert set(seen) == {"127.0.0.1"}
    assert "via mirror 127.0.0.1:5999" in str(info.value)


def test_identity_token_uses_the_refresh_grant(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="bearer")
    digest = fake.add_image("team/app", "1.0")
    creds = {HOST: Credentials("", "", identity_token="refresh-ok")}
    client = RegistryClient(transport=fake.transport(), sleep=sleeps, credentials=creds)
    with client:
        assert client.resolve(parse_reference(f"{HOST}/team/app:1.0")).digest == digest
    assert fake.token_requests == [["repository:team/app:pull"]]
    assert fake.counts[("POST", "/token")] == 1


def test_credentials_never_go_to_a_plain_http_token_service(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="bearer")
    fake.add_image("team/app", "1.0")

    def handler(request: httpx.Request) -> httpx.Response:
        response = fake.handle(request)
        if response.status_code == 401 and request.url.path.startswith("/v2/"):
            response.headers["WWW-Authenticate"] = 'Bearer realm="http://auth.example/token"'
        return response

    creds = {HOST: Credentials("alice", "pw-not-sent")}
    client = RegistryClient(transport=httpx.MockTransport(handler), sleep=sleeps, credentials=creds)
    with client, pytest.raises(RegistryAuthError, match="plain-http token service"):
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
    assert fake.counts[("GET", "/token")] == 0


def test_plain_http_to_a_tls_registry_says_so(sleeps: Sleeps) -> None:
    def tls_only(request: httpx.Request) -> httpx.Response:
        # What Go's net/http answers to a plain-http request on a TLS port.
        return httpx.Response(400, content=b"Client sent an HTTP request to an HTTPS server.\n")

    client = RegistryClient(transport=httpx.MockTransport(tls_only), sleep=sleeps)
    with client, pytest.raises(RegistryProtocolError) as info:
        client.resolve(parse_reference("127.0.0.1:5443/a:1"))
    assert "speaks https" in str(info.value) and "registry-ca-files" in str(info.value)


def test_a_refused_cached_token_is_replaced(sleeps: Sleeps) -> None:
    fake = FakeRegistry(auth="bearer")
    digest = fake.add_image("team/app", "1.0")
    with make_client(fake, sleeps) as client:
        client.resolve(parse_reference(f"{HOST}/team/app:1.0"))
        # the registry revokes it: the next request is refused once, with a challenge
        refusal = fake._check_auth(httpx.Request("GET", f"https://{HOST}/v2/"))
        assert refusal is not None and refusal.status_code == 401
        fake.faults = [refusal]
        assert client.resolve(parse_reference(f"{HOST}/team/app:1.0")).digest == digest
    assert len(fake.token_requests) == 2
