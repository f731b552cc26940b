"""The harness itself, against the real servers it starts."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import secrets
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from tests.harness.fault_proxy import Proxy
from tests.harness.types import BaseImage, RegistryInfo, Services

pytestmark = pytest.mark.engine


def _get(url: str, *, headers: dict[str, str] | None = None, ca_file: str | None = None) -> int:
    context = ssl.create_default_context(cafile=ca_file) if ca_file else None
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as err:
        return err.code


def test_engine_answers_version(engine: docker.DockerClient, services: Services) -> None:
    version = engine.version()
    assert version["ApiVersion"]
    assert services.docker_host.startswith(("unix://", "tcp://", "ssh://"))


def test_services_env_names_mirror(services: Services) -> None:
    host, _, port = services.mirror.partition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert _get(f"http://{services.mirror}/v2/") == 200


def test_basic_auth_rejects_wrong_password(registry_basic: RegistryInfo) -> None:
    def auth(password: str) -> dict[str, str]:
        token = base64.b64encode(f"{registry_basic.username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    assert registry_basic.password is not None
    assert _get(f"{registry_basic.url}/v2/") == 401
    assert _get(f"{registry_basic.url}/v2/", headers=auth("wrong-password")) == 401
    assert _get(f"{registry_basic.url}/v2/", headers=auth(registry_basic.password)) == 200


def test_open_registry_needs_no_auth(registry_open: RegistryInfo) -> None:
    assert _get(f"{registry_open.url}/v2/") == 200
    assert registry_open.username is None


def _round_trip(engine: docker.DockerClient, registry: RegistryInfo, name: str) -> None:
    from tests.harness.images import push, tiny_image

    repository = f"{registry.host}/harness/{name}"
    image_id = tiny_image(engine, repository, "v1")
    auth = None
    if registry.username is not None and registry.password is not None:
        auth = {"username": registry.username, "password": registry.password}
    digest = push(engine, repository, "v1", auth)
    engine.images.remove(image_id, force=True)
    pulled = engine.images.pull(f"{repository}@{digest}", auth_config=auth)
    assert pulled.id == image_id
    engine.images.remove(image_id, force=True)


def test_push_pull_round_trip_open(
    engine: docker.DockerClient, registry_open: RegistryInfo
) -> None:
    _round_trip(engine, registry_open, "open")


def test_push_pull_round_trip_basic(
    engine: docker.DockerClient, registry_basic: RegistryInfo
) -> None:
    _round_trip(engine, registry_basic, "basic")


def test_push_pull_round_trip_token(
    engine: docker.DockerClient, registry_token: RegistryInfo
) -> None:
    assert registry_token.issuer is not None
    before = len(registry_token.issuer.requests)
    _round_trip(engine, registry_token, "token")
    seen = registry_token.issuer.requests[before:]
    assert any(
        r.granted and r.username == "bob" and any("harness/token" in s for s in r.scopes)
        for r in seen
    )


def test_push_pull_round_trip_mirror(
    engine: docker.DockerClient, mirror_registry: RegistryInfo
) -> None:
    _round_trip(engine, mirror_registry, "mirror")


def test_token_from_issuer_is_accepted_by_registry(registry_token: RegistryInfo) -> None:
    issuer = registry_token.issuer
    assert issuer is not None and registry_token.password is not None
    ca = registry_token.ca_file
    scope = "registry:catalog:*"
    basic = base64.b64encode(f"bob:{registry_token.password}".encode()).decode()
    request = urllib.request.Request(
        f"{issuer.url}?service={issuer.service}&scope={scope}",
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert set(body) >= {"token", "access_token", "expires_in", "issued_at"}
    assert _get(f"{registry_token.url}/v2/", ca_file=ca) == 401
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert _get(f"{registry_token.url}/v2/", headers=bearer, ca_file=ca) == 200
    assert _get(f"{registry_token.url}/v2/_catalog", headers=bearer, ca_file=ca) == 200


def test_issuer_rejects_wrong_password(registry_token: RegistryInfo) -> None:
    issuer = registry_token.issuer
    assert issuer is not None
    basic = base64.b64encode(b"bob:not-the-password").decode()
    status = _get(
        f"{issuer.url}?service={issuer.service}", headers={"Authorization": f"Basic {basic}"}
    )
    assert status == 401
    assert issuer.requests[-1].granted is False


def test_token_signed_by_another_key_is_rejected(
    registry_token: RegistryInfo, tmp_path: Path
) -> None:
    from tests.harness.certs import make_self_signed
    from tests.harness.token_issuer import Scope

    issuer = registry_token.issuer
    assert issuer is not None
    ca = registry_token.ca_file
    scopes = [Scope("registry", "catalog", ("*",))]
    good = issuer.issue("bob", scopes)
    foreign = make_self_signed(tmp_path, "foreign-signer")
    forged = issuer.issue("bob", scopes, signing=foreign)
    url = f"{registry_token.url}/v2/_catalog"
    assert _get(url, headers={"Authorization": f"Bearer {good}"}, ca_file=ca) == 200
    assert _get(url, headers={"Authorization": f"Bearer {forged}"}, ca_file=ca) == 401


# ---------------------------------------------------------------- mirror and base images


def _cli(services: Services, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": services.docker_host}
    return subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_mirror_serves_python_by_digest_to_the_engine(
    engine: docker.DockerClient, services: Services, mirror_registry: RegistryInfo
) -> None:
    from tests.harness.images import push, tiny_image

    assert services.mirror_configured, "the engine must use the harness mirror"
    tag = f"harness-probe-{secrets.token_hex(4)}"
    mirror_repo = f"{mirror_registry.host}/library/python"
    image_id = tiny_image(engine, mirror_repo, tag)
    digest = push(engine, mirror_repo, tag)
    engine.images.remove(image_id, force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        engine.images.get(image_id)
    result = _cli(services, "pull", f"python:{tag}@{digest}")
    assert result.returncode == 0, result.stderr
    assert engine.images.get(f"python@{digest}").id == image_id
    engine.images.remove(image_id, force=True)


def test_base_image_resolves_through_the_mirror(
    base_image: BaseImage, services: Services, mirror_registry: RegistryInfo
) -> None:
    assert base_image.from_ref.startswith("python:")
    manifest_url = f"{mirror_registry.url}/v2/{base_image.repository}/manifests/{base_image.digest}"
    assert _get(manifest_url) == 200
    result = _cli(services, "pull", base_image.from_ref)
    assert result.returncode == 0, result.stderr
    inspect = _cli(services, "image", "inspect", "--format", "{{.Id}}", base_image.from_ref)
    assert inspect.stdout.strip() == base_image.image_id


def test_base_image_has_python_venv_and_pip(
    engine: docker.DockerClient, base_image: BaseImage
) -> None:
    output = engine.containers.run(
        base_image.image_id,
        ["python3", "-c", "import ensurepip, venv, pip; print('pip', pip.__version__)"],
        network_mode="none",
        remove=True,
    )
    assert b"pip " in output


def test_base_image_is_in_registry_open(base_image: BaseImage, registry_open: RegistryInfo) -> None:
    url = f"{registry_open.url}/v2/{base_image.repository}/manifests/{base_image.tag}"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    assert _get(url, headers={"Accept": accept}) == 200


def test_cached_base_images_are_reused(
    engine: docker.DockerClient, base_image: BaseImage, services: Services
) -> None:
    from tests.harness.base_images import (
        LOCAL_REPOSITORY,
        PYTHON_ROOTFS,
        ensure_python_base,
        ensure_rootfs_images,
    )

    again = ensure_rootfs_images(engine, [PYTHON_ROOTFS])["python"]
    assert again.built is False
    assert again.image_id == base_image.image_id
    # Without the local tag, the label (import history) still finds it.
    engine.images.remove(f"{LOCAL_REPOSITORY}:python-{PYTHON_ROOTFS.key}")
    second = ensure_python_base(engine, services.mirror)
    assert second.image_id == base_image.image_id
    assert second.digest == base_image.digest
    assert engine.images.get(f"{LOCAL_REPOSITORY}:python-{PYTHON_ROOTFS.key}").id == second.image_id


def test_cuda_stand_ins(
    engine: docker.DockerClient, cuda_images: dict[str, BaseImage], mirror_registry: RegistryInfo
) -> None:
    assert "12.4.1-base-ubuntu22.04" in cuda_images
    without_python = [i for i in cuda_images.values() if not i.has_python]
    assert without_python
    for image in cuda_images.values():
        assert image.from_ref.startswith(f"nvidia/cuda:{image.tag}@sha256:")
        url = f"{mirror_registry.url}/v2/nvidia/cuda/manifests/{image.digest}"
        assert _get(url) == 200
        config = engine.images.get(image.image_id).attrs["Config"]
        env = dict(item.split("=", 1) for item in config["Env"])
        assert image.tag.startswith(env["CUDA_VERSION"])
        assert env["NVIDIA_REQUIRE_CUDA"].startswith("cuda>=")
        assert env["NVIDIA_VISIBLE_DEVICES"] == "all"
        assert "maintainer" in config["Labels"]
    probe = ["sh", "-c", "command -v python3 || echo no-python"]
    out = engine.containers.run(without_python[0].image_id, probe, network_mode="none", remove=True)
    assert out.strip() == b"no-python"


# ---------------------------------------------------------------- fault proxy


def _request(address: str, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    host, _, port = address.partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _upload_blob(registry: RegistryInfo, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = urllib.request.Request(
        f"{registry.url}/v2/{repository}/blobs/uploads/", method="POST", data=b""
    )
    with urllib.request.urlopen(start, timeout=10) as response:
        location = response.headers["Location"]
    separator = "&" if "?" in location else "?"
    put = urllib.request.Request(
        f"{location}{separator}digest={digest}",
        method="PUT",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(put, timeout=10) as response:
        assert response.status == 201
    return digest


def test_fault_proxy_forwards_and_counts(
    fault_proxy: Callable[..., Proxy], registry_open: RegistryInfo
) -> None:
    data = secrets.token_bytes(4096)
    digest = _upload_blob(registry_open, "harness/proxy", data)
    proxy = fault_proxy(registry_open.host)
    status, _, body = _request(proxy.address, "GET", f"/v2/harness/proxy/blobs/{digest}")
    assert (status, body) == (200, data)
    assert proxy.counts[("GET", f"/v2/harness/proxy/blobs/{digest}")] == 1
    assert proxy.bytes_sent == len(data)


def test_fault_proxy_cuts_alters_and_injects(
    fault_proxy: Callable[..., Proxy], registry_open: RegistryInfo
) -> None:
    data = secrets.token_bytes(4096)
    path = f"/v2/harness/proxy/blobs/{_upload_blob(registry_open, 'harness/proxy', data)}"

    cut = fault_proxy(registry_open.host, cut_after_bytes=100)
    with pytest.raises(http.client.IncompleteRead):
        _request(cut.address, "GET", path)
    assert cut.bytes_sent == 100

    altered = fault_proxy(registry_open.host, alter_body=lambda b: b[::-1])
    assert _request(altered.address, "GET", path)[2] == data[::-1]

    limited = fault_proxy(
        registry_open.host,
        status_override=(429, {"Retry-After": "1"}),
        match=lambda method, p: method == "GET" and "/blobs/" in p,
        times=1,
    )
    status, headers, _ = _request(limited.address, "GET", path)
    assert (status, headers.get("Retry-After")) == (429, "1")
    assert _request(limited.address, "GET", "/v2/")[0] == 200  # not matched
    assert _request(limited.address, "GET", path)[2] == data  # fault used up
    assert limited.counts[("GET", path)] == 2


def test_fault_proxy_in_front_of_tls_token_registry(
    fault_proxy: Callable[..., Proxy], registry_token: RegistryInfo
) -> None:
    proxy = fault_proxy(registry_token.url, delay_s=0.01)
    status, headers, _ = _request(proxy.address, "GET", "/v2/")
    assert status == 401
    challenge = headers.get("Www-Authenticate") or headers.get("WWW-Authenticate") or ""
    assert challenge.startswith("Bearer realm=")
    assert proxy.faulted[("GET", "/v2/")] == 1


def test_scope_parse_keeps_colons_in_names() -> None:
    from tests.harness.token_issuer import Scope

    scope = Scope.parse("repository:127.0.0.1:5000/team/app:pull,push")
    assert scope == Scope("repository", "127.0.0.1:5000/team/app", ("pull", "push"))
    assert Scope.parse("registry:catalog:*").actions == ("*",)
