"""The registry client against real distribution registries started by the harness."""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from registry_helpers import MultiArchIndex, client_for, layer_tar, push_image

from reprobuild.registry.auth import DockerConfig
from reprobuild.registry.client import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryClient,
)
from reprobuild.registry.errors import (
    DigestMismatchError,
    ManifestUnknownError,
    RateLimitedError,
    RegistryAuthError,
    RegistryProtocolError,
    RegistryUnreachableError,
)
from reprobuild.registry.mirrors import RegistrySettings
from reprobuild.registry.reference import parse_reference

if TYPE_CHECKING:
    from tests.harness.types import RegistryInfo

pytestmark = pytest.mark.engine


class Sleeps(list[float]):
    """Records back-off sleeps instead of sleeping: fault tests never wait on a clock."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def pseudo_random(size: int, seed: bytes) -> bytes:
    out = bytearray()
    for counter in itertools.count():
        if len(out) >= size:
            break
        out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
    return bytes(out[:size])


def proxy_client(address: str, **options: Any) -> RegistryClient:
    options.setdefault("docker_config", DockerConfig())
    options.setdefault("connect_timeout", 2.0)
    options.setdefault("timeout", 5.0)
    return RegistryClient(**options)


# ------------------------------------------------------------------ push / pull


def test_push_and_read_back_byte_exact(registry_open: RegistryInfo) -> None:
    repo = parse_reference(f"{registry_open.host}/real/exact")
    with client_for(registry_open) as client:
        image = push_image(client, repo, arch="amd64", note="exact", tag="oci")
        # A Docker schema 2 manifest with the 3-space indent the 20.10 engine writes.
        raw = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": image.config,
                    "size": len(client.get_blob(repo, image.config)),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                        "digest": image.layer,
                        "size": len(client.get_blob(repo, image.layer)),
                    }
                ],
            },
            indent=3,
        ).encode()
        digest = client.put_manifest(repo.with_tag("docker"), raw, DOCKER_MANIFEST)
        assert digest == "sha256:" + hashlib.sha256(raw).hexdigest()
        resolved = client.resolve(repo.with_tag("docker"))
        assert (resolved.digest, resolved.media_type, resolved.size) == (
            digest,
            DOCKER_MANIFEST,
            len(raw),
        )
        assert client.get_manifest(repo.with_tag("docker")).raw == raw
        oci = client.get_manifest(repo.with_tag("oci"))
        assert (oci.raw, oci.media_type, oci.digest) == (image.raw, OCI_MANIFEST, image.digest)
        assert sorted(client.list_tags(repo)) == ["docker", "oci"]


def test_uploads_chunked_streamed_mounted(registry_open: RegistryInfo, tmp_path: Path) -> None:
    source = parse_reference(f"{registry_open.host}/real/upload-src")
    target = parse_reference(f"{registry_open.host}/real/upload-dst")
    big = pseudo_random(700_000, b"chunked")
    streamed = pseudo_random(123_457, b"streamed")
    with client_for(registry_open) as client:
        pieces = (big[i : i + 10_000] for i in range(0, len(big), 10_000))
        big_digest = client.upload_blob(source, pieces, chunk_size=256 * 1024)
        assert big_digest == "sha256:" + hashlib.sha256(big).hexdigest()
        streamed_digest = client.upload_blob(source, iter([streamed[:1000], streamed[1000:]]))
        assert streamed_digest == "sha256:" + hashlib.sha256(streamed).hexdigest()
        assert client.blob_exists(source, big_digest)
        assert not client.blob_exists(target, big_digest)
        assert client.mount_blob(target, big_digest, source)
        assert client.blob_exists(target, big_digest)
        # upload_blob with a known digest mounts instead of sending bytes
        assert (
            client.upload_blob(target, streamed, digest=streamed_digest, mount_from=source)
            == streamed_digest
        )
        assert client.get_blob(target, big_digest) == big
        destination = tmp_path / "blob"
        client.download_blob(target, streamed_digest, destination)
        assert destination.read_bytes() == streamed
        wrong = "sha256:" + hashlib.sha256(b"not this").hexdigest()
        with pytest.raises(DigestMismatchError):
            client.upload_blob(target, iter([b"some bytes"]), digest=wrong)
        assert not client.blob_exists(target, wrong)


def test_multiarch_index_pin_is_the_index(
    multiarch_index: MultiArchIndex, registry_open: RegistryInfo
) -> None:
    with client_for(registry_open) as client:
        resolved = client.resolve(multiarch_index.ref, platforms=True)
        assert resolved.digest == multiarch_index.digest
        assert resolved.media_type == OCI_INDEX
        assert resolved.pinned.with_digest(None) == multiarch_index.ref
        for platform, child in multiarch_index.children.items():
            assert resolved.platform_digest(platform) == child
            manifest = client.get_manifest(multiarch_index.ref.with_digest(child))
            assert not manifest.is_index and manifest.config is not None
        assert resolved.platform_digest("linux/arm64/v8") == multiarch_index.children["linux/arm64"]
        index = client.get_manifest(multiarch_index.ref)
        assert index.raw == multiarch_index.raw and index.is_index


def test_mirror_answers_for_docker_hub(multiarch_index: MultiArchIndex) -> None:
    settings = RegistrySettings(mirrors={"docker.io": (multiarch_index.mirror,)})
    with RegistryClient(settings, docker_config=DockerConfig()) as client:
        resolved = client.resolve(multiarch_index.mirrored_ref, platforms=True)
        with pytest.raises(ManifestUnknownError) as info:
            client.resolve(parse_reference("reprobuild-test/multiarch:no-such-tag"))
    assert resolved.digest == multiarch_index.digest
    assert resolved.pinned.familiar == f"reprobuild-test/multiarch:1.0@{multiarch_index.digest}"
    assert resolved.pinned.registry == "docker.io"
    assert f"via mirror {multiarch_index.mirror}" in str(info.value)


def test_unknown_tag_and_repository(
    registry_open: RegistryInfo, multiarch_index: MultiArchIndex
) -> None:
    with client_for(registry_open) as client:
        with pytest.raises(ManifestUnknownError) as info:
            client.resolve(multiarch_index.ref.with_tag("9.9"))
        assert info.value.code == "MANIFEST_UNKNOWN"
        assert "multiarch/demo:9.9" in str(info.value)
        with pytest.raises(ManifestUnknownError) as info:
            client.get_manifest(parse_reference(f"{registry_open.host}/no/such-repo:1"))
        assert info.value.code in ("NAME_UNKNOWN", "MANIFEST_UNKNOWN")
        assert "check the repository name and tag" in str(info.value)


# ------------------------------------------------------------------------ auth


def test_basic_auth(registry_basic: RegistryInfo) -> None:
    assert registry_basic.password
    repo = parse_reference(f"{registry_basic.host}/real/basic")
    with client_for(registry_basic) as client:
        image = push_image(client, repo, arch="amd64", note="basic", tag="v1")
        assert client.resolve(repo.with_tag("v1")).digest == image.digest
    wrong = RegistryClient(
        RegistrySettings(),
        credentials={registry_basic.host: _creds("alice", "wrong-pass-x1")},
        docker_config=DockerConfig(),
    )
    with wrong, pytest.raises(RegistryAuthError) as info:
        wrong.resolve(repo.with_tag("v1"))
    assert info.value.code == "UNAUTHORIZED"
    assert "wrong-pass-x1" not in str(info.value)
    assert registry_basic.password not in str(info.value)
    anonymous = RegistryClient(docker_config=DockerConfig())
    with anonymous, pytest.raises(RegistryAuthError, match="no credentials are configured"):
        anonymous.resolve(repo.with_tag("v1"))


def test_basic_auth_from_docker_config(
    registry_basic: RegistryInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    assert registry_basic.password
    token = base64.b64encode(f"alice:{registry_basic.password}".encode()).decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {registry_basic.host: {"auth": token}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    repo = parse_reference(f"{registry_basic.host}/real/basic-config")
    with RegistryClient() as client:
        image = push_image(client, repo, arch="arm64", note="config", tag="v1")
        assert client.resolve(repo.with_tag("v1")).digest == image.digest


def test_token_auth(registry_token: RegistryInfo) -> None:
    issuer = registry_token.issuer
    assert issuer is not None and registry_token.url.startswith("https://")
    repo = parse_reference(f"{registry_token.host}/real/token")
    with client_for(registry_token) as client:
        image = push_image(client, repo, arch="amd64", note="token", tag="v1")
        before = len(issuer.requests)
        for _ in range(3):
            assert client.resolve(repo.with_tag("v1")).digest == image.digest
        pulls = issuer.requests[before:]
    assert [r.scopes for r in pulls] == [("repository:real/token:pull",)]  # cached after one
    pushed = [r for r in issuer.requests if "repository:real/token:pull,push" in r.scopes]
    assert pushed and all(r.username == "bob" and r.granted for r in pushed)


def test_token_auth_wrong_credentials(registry_token: RegistryInfo) -> None:
    assert registry_token.ca_file
    settings = RegistrySettings(ca_files={registry_token.host: Path(registry_token.ca_file)})
    repo = parse_reference(f"{registry_token.host}/real/token:v1")
    wrong = RegistryClient(
        settings,
        credentials={registry_token.host: _creds("bob", "nope-77")},
        docker_config=DockerConfig(),
    )
    with wrong, pytest.raises(RegistryAuthError) as info:
        wrong.resolve(repo)
    assert info.value.code == "UNAUTHORIZED" and "credentials were rejected" in str(info.value)
    assert "nope-77" not in str(info.value)
    anonymous = RegistryClient(settings, docker_config=DockerConfig())
    with anonymous, pytest.raises(RegistryAuthError, match="anonymous access was refused"):
        anonymous.resolve(repo)


def test_tls_needs_the_ca(registry_token: RegistryInfo) -> None:
    repo = parse_reference(f"{registry_token.host}/real/token:v1")
    # Without its CA configured, a loopback registry is spoken to in plain http; the TLS
    # server refuses, and the error says what to configure.
    client = RegistryClient(docker_config=DockerConfig(), max_attempts=1)
    with client, pytest.raises(RegistryProtocolError, match="registry-ca-files"):
        client.resolve(repo)


def _creds(username: str, password: str) -> Any:
    from reprobuild.registry.auth import Credentials

    return Credentials(username, password)


# ---------------------------------------------------------------------- faults


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_registry_down_is_a_clear_error() -> None:
    port = free_port()
    sleeps = Sleeps()
    client = proxy_client(f"127.0.0.1:{port}", max_attempts=3, sleep=sleeps)
    with client, pytest.raises(RegistryUnreachableError) as info:
        client.resolve(parse_reference(f"127.0.0.1:{port}/any/image:1"))
    assert f"cannot reach 127.0.0.1:{port}" in str(info.value)
    assert "3 attempts" in str(info.value) and len(sleeps) == 2


def _manifest_get(method: str, path: str) -> bool:
    return method == "GET" and "/manifests/" in path


def test_altered_manifest_bytes_are_refused(
    fault_proxy: Callable[..., Any],
    registry_open: RegistryInfo,
    multiarch_index: MultiArchIndex,
) -> None:
    proxy = fault_proxy(
        registry_open.host,
        alter_body=lambda body: body + b"\n",  # still valid JSON, other bytes
        match=_manifest_get,
    )
    child = multiarch_index.children["linux/amd64"]
    with proxy_client(proxy.address) as client:
        by_digest = parse_reference(f"{proxy.address}/multiarch/demo@{child}")
        with pytest.raises(DigestMismatchError) as info:
            client.get_manifest(by_digest)
        assert child in str(info.value)
        with pytest.raises(DigestMismatchError):
            client.get_manifest(parse_reference(f"{proxy.address}/multiarch/demo:1.0"))


def test_altered_blob_bytes_are_refused(
    fault_proxy: Callable[..., Any], registry_open: RegistryInfo, tmp_path: Path
) -> None:
    repo = parse_reference(f"{registry_open.host}/real/altered")
    data = layer_tar({"file": b"original content\n"})
    with client_for(registry_open) as client:
        digest = client.upload_blob(repo, data)
    proxy = fault_proxy(
        registry_open.host,
        alter_body=lambda body: body.replace(b"original", b"tampered"),
        match=lambda method, path: "/blobs/sha256:" in path,
    )
    with proxy_client(proxy.address) as client:
        through = parse_reference(f"{proxy.address}/real/altered")
        with pytest.raises(DigestMismatchError):
            client.get_blob(through, digest)
        with pytest.raises(DigestMismatchError):
            client.download_blob(through, digest, tmp_path / "layer.tar")
    assert not list(tmp_path.iterdir())


def test_cut_connection_bounded_retries(
    fault_proxy: Callable[..., Any],
    registry_open: RegistryInfo,
    multiarch_index: MultiArchIndex,
) -> None:
    proxy = fault_proxy(registry_open.host, cut_after_bytes=200, match=_manifest_get)
    sleeps = Sleeps()
    path = f"/v2/multiarch/demo/manifests/{multiarch_index.digest}"
    with (
        proxy_client(proxy.address, max_attempts=3, sleep=sleeps) as client,
        pytest.raises(RegistryUnreachableError) as info,
    ):
        client.get_manifest(
            parse_reference(f"{proxy.address}/multiarch/demo@{multiarch_index.digest}")
        )
    assert "3 attempts" in str(info.value)
    assert proxy.counts[("GET", path)] == 3 and len(sleeps) == 2


def test_429_retry_after_is_honoured(
    fault_proxy: Callable[..., Any],
    registry_open: RegistryInfo,
    multiarch_index: MultiArchIndex,
) -> None:
    hits = itertools.count()

    def first_two_heads(method: str, path: str) -> bool:
        return method == "HEAD" and "/manifests/" in path and next(hits) < 2

    proxy = fault_proxy(
        registry_open.host, status_override=(429, {"Retry-After": "7"}), match=first_two_heads
    )
    sleeps = Sleeps()
    with proxy_client(proxy.address, sleep=sleeps) as client:
        resolved = client.resolve(parse_reference(f"{proxy.address}/multiarch/demo:1.0"))
    assert resolved.digest == multiarch_index.digest
    assert sleeps == [7.0, 7.0]

    always = fault_proxy(registry_open.host, status_override=(429, {"Retry-After": "2"}))
    sleeps.clear()
    with (
        proxy_client(always.address, sleep=sleeps, max_attempts=3) as client,
        pytest.raises(RateLimitedError) as info,
    ):
        client.resolve(parse_reference(f"{always.address}/multiarch/demo:1.0"))
    assert info.value.code == "TOOMANYREQUESTS" and sleeps == [2.0, 2.0]


def test_a_registry_that_hangs_times_out(
    fault_proxy: Callable[..., Any],
    registry_open: RegistryInfo,
    multiarch_index: MultiArchIndex,
) -> None:
    proxy = fault_proxy(registry_open.host, delay_s=5.0)
    sleeps = Sleeps()
    client = proxy_client(
        proxy.address, timeout=0.3, connect_timeout=0.3, max_attempts=2, sleep=sleeps
    )
    with client, pytest.raises(RegistryUnreachableError) as info:
        client.resolve(parse_reference(f"{proxy.address}/multiarch/demo:1.0"))
    assert "timed out" in str(info.value) and "2 attempts" in str(info.value)
    assert len(sleeps) == 1


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_ca_bundle_from_the_environment(
    registry_token: RegistryInfo, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    assert registry_token.ca_file and registry_token.username and registry_token.password
    repo = parse_reference(f"{registry_token.host}/real/env-ca")
    with client_for(registry_token) as client:
        image = push_image(client, repo, arch="amd64", note="env-ca", tag="1")
    # The registry as an explicit https:// mirror, trusted only through the environment.
    settings = RegistrySettings(mirrors={"docker.io": (f"https://{registry_token.host}",)})
    creds = {registry_token.host: _creds(registry_token.username, registry_token.password)}
    untrusted = RegistryClient(settings, credentials=creds, docker_config=DockerConfig())
    with untrusted, pytest.raises(RegistryUnreachableError, match="not trusted"):
        untrusted.resolve(parse_reference("real/env-ca:1"))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, registry_token.ca_file)
    with RegistryClient(settings, credentials=creds, docker_config=DockerConfig()) as client:
        assert client.resolve(parse_reference("real/env-ca:1")).digest == image.digest
