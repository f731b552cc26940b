"""Session fixtures backed by real servers (see tests/harness/ and scripts/services.sh).

Every fixture here FAILS (never skips) when its server cannot start, with the reason.
Heavy imports (docker, harness modules) happen inside the fixtures so that test modules
that need no servers do not pay for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    import docker

    from tests.harness.fault_proxy import Proxy
    from tests.harness.types import BaseImage, RegistryInfo, Services

T = TypeVar("T")


def _or_fail(what: str, start: Callable[[], T], *errors: type[Exception]) -> T:
    """Run ``start``; on one of ``errors`` fail the test with ``what: <reason>`` (no skip)."""
    try:
        return start()
    except errors as err:
        message = f"{what}: {err}"
    # Outside the except block: the failure shows the reason once, without a chained trace.
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def services() -> Services:
    """Engine + mirror from ``scripts/services.sh up`` (run once per session, idempotent)."""
    from tests.harness.services import ServicesError, ensure_services

    return _or_fail("cannot start the test servers", ensure_services, ServicesError)


@pytest.fixture(scope="session")
def engine(services: Services) -> Iterator[docker.DockerClient]:
    """docker-py client for the session's engine."""
    import docker

    def connect() -> docker.DockerClient:
        client = docker.DockerClient(base_url=services.docker_host, timeout=900)
        client.ping()
        return client

    client = _or_fail(
        f"the engine at {services.docker_host} does not answer",
        connect,
        docker.errors.DockerException,
    )
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

    workdir = tmp_path_factory.mktemp("registry-open")
    running = _or_fail(
        "the open registry did not start", lambda: start_registry(workdir), RegistryStartError
    )
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
    workdir = tmp_path_factory.mktemp("registry-basic")
    running = _or_fail(
        "the basic-auth registry did not start",
        lambda: start_registry(workdir, htpasswd=auth),
        RegistryStartError,
    )
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
    The issuer knows user ``bob`` (all actions) with a random password; tests may
    ``issuer.add_user(...)`` more, or set ``issuer.anonymous_actions = ("pull",)``.
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
    tls = Tls(certificate=tls_pair.cert_path, key=tls_pair.key_path)
    try:
        running = _or_fail(
            "the token-auth registry did not start",
            lambda: start_registry(workdir / "registry", token=auth, tls=tls),
            RegistryStartError,
        )
    except BaseException:
        issuer.close()
        raise
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
    registry_open; ``FROM python:<tag>@<digest>`` (``.from_ref``) resolves through the mirror."""
    from tests.harness.base_images import BaseImageError, ensure_python_base
    from tests.harness.services import ServicesError, require_mirror

    def build() -> BaseImage:
        require_mirror(services)
        return ensure_python_base(engine, services.mirror, extra_registries=(registry_open,))

    return _or_fail("the python base image is not available", build, BaseImageError, ServicesError)


@pytest.fixture(scope="session")
def cuda_images(services: Services, engine: docker.DockerClient) -> dict[str, BaseImage]:
    """Stand-ins pushed to the mirror as ``nvidia/cuda:<real tag>``, keyed by tag."""
    from tests.harness.base_images import BaseImageError, ensure_cuda_images
    from tests.harness.services import ServicesError, require_mirror

    def build() -> dict[str, BaseImage]:
        require_mirror(services)
        return ensure_cuda_images(engine, services.mirror)

    return _or_fail(
        "the CUDA stand-in images are not available", build, BaseImageError, ServicesError
    )


@pytest.fixture
def fault_proxy() -> Iterator[Callable[..., Proxy]]:
    """Factory ``fault_proxy(upstream, *, cut_after_bytes=None, delay_s=0, alter_body=None,
    status_override=None, match=None, times=None) -> Proxy``; all closed after the test."""
    from tests.harness.fault_proxy import Proxy

    proxies: list[Proxy] = []

    def factory(upstream: str, **options: Any) -> Proxy:
        proxy = Proxy(upstream, **options)
        proxies.append(proxy)
        return proxy

    yield factory
    for proxy in proxies:
        proxy.close()
