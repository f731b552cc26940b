"""Session fixtures backed by real servers (see tests/harness/ and scripts/services.sh).

Every fixture here FAILS (never skips) when its server cannot start, with the reason.
Heavy imports (docker, harness modules) happen inside the fixtures so that test modules
that need no servers do not pay for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import docker

    from tests.harness.fault_proxy import Proxy
    from tests.harness.types import BaseImage, RegistryInfo, Services


@pytest.fixture(scope="session")
def services() -> Services:
    """Engine + mirror from ``scripts/services.sh up`` (run once per session, idempotent)."""
    from tests.harness.services import ServicesError, ensure_services

    try:
        return ensure_services()
    except ServicesError as err:
        pytest.fail(f"cannot start the test servers: {err}", pytrace=False)


@pytest.fixture(scope="session")
def engine(services: Services) -> Iterator[docker.DockerClient]:
    """docker-py client for the session's engine."""
    import docker

    try:
        client = docker.DockerClient(base_url=services.docker_host, timeout=900)
        client.ping()
    except docker.errors.DockerException as err:
        pytest.fail(f"the engine at {services.docker_host} does not answer: {err}", pytrace=False)
    yield client
    client.close()


@pytest.fixture(scope="session")
def mirror_registry(services: Services) -> RegistryInfo:
    """The registry the engine uses as its Docker Hub mirror (no auth)."""
    from tests.harness.types import RegistryInfo

    return RegistryInfo(host=services.mirror, url=f"http://{services.mirror}")


@pytest.fixture(scope="session")
def registry_open(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryInfo]:
    """A fresh registry without auth, throwaway storage, for the session."""
    from tests.harness.registry import RegistryStartError, start_registry
    from tests.harness.types import RegistryInfo

    try:
        running = start_registry(tmp_path_factory.mktemp("registry-open"))
    except RegistryStartError as err:
        pytest.fail(f"the open registry did not start: {err}", pytrace=False)
    yield RegistryInfo(host=running.host, url=running.url)
    running.stop()


@pytest.fixture(scope="session")
def registry_basic(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryInfo]:
    """A registry with htpasswd Basic auth: user ``alice`` with a random password."""
    from tests.harness.registry import Htpasswd, RegistryStartError, start_registry
    from tests.harness.types import RegistryInfo

    auth = Htpasswd("alice", secrets.token_urlsafe(16))
    try:
        running = start_registry(tmp_path_factory.mktemp("registry-basic"), htpasswd=auth)
    except RegistryStartError as err:
        pytest.fail(f"the basic-auth registry did not start: {err}", pytrace=False)
    yield RegistryInfo(
        host=running.host, url=running.url, username=auth.username, password=auth.password
    )
    running.stop()


@pytest.fixture(scope="session")
def registry_token(
    services: Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryInfo]:
    """HTTPS registry with ``auth: token``; realm = an in-process issuer (``.issuer``).

    ``ca_file`` verifies the registry's self-signed TLS certificate (IP SAN 127.0.0.1).
    The issuer knows user ``bob`` (all actions) with a random password.
    """
    from tests.harness.certs import make_self_signed
    from tests.harness.registry import RegistryStartError, Tls, TokenAuth, start_registry
    from tests.harness.token_issuer import TokenIssuer
    from tests.harness.types import RegistryInfo

    workdir = tmp_path_factory.mktemp("registry-token")
    issuer = TokenIssuer(workdir / "issuer")
    password = secrets.token_urlsafe(16)
    issuer.add_user("bob", password)
    tls_pair = make_self_signed(workdir / "tls", "registry-tls", ip_sans=("127.0.0.1",))
    auth = TokenAuth(
        realm=issuer.url,
        service=issuer.service,
        issuer=issuer.issuer,
        rootcertbundle=issuer.rootcertbundle,
    )
    try:
        running = start_registry(
            workdir / "registry",
            token=auth,
            tls=Tls(certificate=tls_pair.cert_path, key=tls_pair.key_path),
        )
    except RegistryStartError as err:
        issuer.close()
        pytest.fail(f"the token-auth registry did not start: {err}", pytrace=False)
    yield RegistryInfo(
        host=running.host,
        url=running.url,
        username="bob",
        password=password,
        ca_file=str(tls_pair.cert_path),
        issuer=issuer,
    )
    running.stop()
    issuer.close()


@pytest.fixture(scope="session")
def base_image(
    services: Services, engine: docker.DockerClient, registry_open: RegistryInfo
) -> BaseImage:
    """``library/python:<tag>`` (Debian bookworm + python3/venv/pip) in engine, mirror and
    registry_open; ``FROM python:<tag>@<digest>`` resolves through the mirror."""
    from tests.harness.base_images import BaseImageError, ensure_python_base
    from tests.harness.services import ServicesError, require_mirror

    try:
        require_mirror(services)
        return ensure_python_base(engine, services.mirror, extra_registries=(registry_open,))
    except (BaseImageError, ServicesError) as err:
        pytest.fail(f"the python base image is not available: {err}", pytrace=False)


@pytest.fixture(scope="session")
def cuda_images(services: Services, engine: docker.DockerClient) -> dict[str, BaseImage]:
    """Stand-ins pushed to the mirror as ``nvidia/cuda:<real tag>``, keyed by tag."""
    from tests.harness.base_images import BaseImageError, ensure_cuda_images
    from tests.harness.services import ServicesError, require_mirror

    try:
        require_mirror(services)
        return ensure_cuda_images(engine, services.mirror)
    except (BaseImageError, ServicesError) as err:
        pytest.fail(f"the CUDA stand-in images are not available: {err}", pytrace=False)


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., Proxy]]:
    """Factory for loopback reverse proxies that inject faults; all closed after the test."""
    from tests.harness.fault_proxy import Proxy

    proxies: list[Proxy] = []

    def factory(upstream: str, **options: Any) -> Proxy:
        proxy = Proxy(upstream, **options)
        proxies.append(proxy)
        return proxy

    yield factory
    for proxy in proxies:
        proxy.close()
