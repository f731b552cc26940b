"""The harness itself, against the real servers it starts."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path

import docker
import pytest

from tests.harness.types import RegistryInfo, Services

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
