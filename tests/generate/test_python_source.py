"""Python from the distribution's .debs for bases without one: config, base adoption,
pins, and the apt route's verification, all offline.

apt runs for real against bookworm's signed InRelease and Packages index that
scripts/prefetch_test_wheels.py cached (served as a ``file:`` archive): a tampered index
and a wrong keyring are refused by apt itself.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.config import ProjectConfig
from reprobuild.errors import ConfigError
from reprobuild.fetch.cache import BlobCache, HashMismatchError
from reprobuild.fetch.debian import AptError, fetch_debs, resolve_debs
from reprobuild.generate.base import BaseChoice
from reprobuild.generate.config import image_config_from
from reprobuild.generate.cuda import choose_cuda_base
from reprobuild.generate.pins import PinFile
from reprobuild.generate.python_source import (
    DebPin,
    DebRequest,
    DebSet,
    UnpinnedDebsError,
    adopt_python_source,
    debs_sha256_text,
    pinned_debs,
    record_debs,
)
from reprobuild.generate.target import Target
from reprobuild.models import Lock, LockFormat, Sha256

ROOT = Path(__file__).resolve().parents[2]
TEST_CACHE = ROOT / ".cache" / "test-blobs"
DEBIAN = TEST_CACHE / "debian"
MIRROR = DEBIAN / "mirror"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
runner = CliRunner()


def _config(tmp_path: Path, table: dict[str, Any]) -> Any:
    (tmp_path / "requirements.txt").write_text("")
    return image_config_from(
        ProjectConfig(path=tmp_path / "pyproject.toml", table={"lockfile": "requirements.txt",
                                                               **table})
    )


def _lock(tmp_path: Path, python: str | None = None) -> Lock:
    return Lock(format=LockFormat.REQUIREMENTS, path=tmp_path / "requirements.txt",
                sha256=Sha256("0" * 64), packages=(), python=python)


def _cuda_base(python: str = "3.12") -> BaseChoice:
    """As choose_base makes it (python: the config's, else the lock's, else 3.12)."""
    cuda = choose_cuda_base("12.4")
    return BaseChoice(reference=cuda.reference, digest="sha256:" + "3" * 64, has_python=False,
                      target=Target(python=python, glibc=(2, 35)), cuda=cuda)


def _python_base() -> BaseChoice:
    return BaseChoice(reference="python:3.11-slim-bookworm", digest="sha256:" + "1" * 64,
                      has_python=True, target=Target(python="3.11"))


def _cached_set() -> DebSet:
    path = DEBIAN / "bookworm-python3.11.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `python scripts/prefetch_test_wheels.py`")
    data = json.loads(path.read_text())
    return DebSet(
        sources=tuple(data["sources"]), keyring=data["keyring"],
        architecture=data["architecture"], packages=tuple(data["packages"]),
        debs=tuple(DebPin(**d) for d in data["debs"]),
    )


# ------------------------------------------------------------------ config and adoption


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"python-source": "conda"}, "python-source"),
        ({"apt-sources": ["deb.debian.org bookworm"]}, "apt-sources"),
        ({"apt-sources": ["http://deb.debian.org/debian bookworm main; curl x|sh"]},
         "apt-sources"),
        ({"apt-keyring": "keyring.gpg"}, "apt-keyring"),
        ({"apt-packages": {"curl": "latest version"}}, "apt-packages.curl"),
        ({"apt-packages": {"Curl$": "1.0"}}, "apt-packages"),
    ],
)
def test_bad_apt_settings_are_refused(tmp_path: Path, table: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("$", r"\$")):
        _config(tmp_path, {"lockfile": "requirements.txt", **table})


def test_cuda_base_gets_ubuntu_python_debs_by_default(tmp_path: Path) -> None:
    config = _config(tmp_path, {})
    base = adopt_python_source(config, _cuda_base(), _lock(tmp_path))
    assert base.debs is not None and base.debs.python_from_debs
    assert base.target.python == "3.10"  # jammy's own
    assert base.debs.packages == ("python3.10", "python3.10-venv")
    assert base.debs.keyring == "/usr/share/keyrings/ubuntu-archive-keyring.gpg"
    assert base.debs.sources[0] == "http://archive.ubuntu.com/ubuntu jammy main universe"
    assert any("jammy-security" in s for s in base.debs.sources)


def test_lock_python_wins_over_the_distributions(tmp_path: Path) -> None:
    base = adopt_python_source(_config(tmp_path, {}), _cuda_base(), _lock(tmp_path, "==3.12.*"))
    assert base.target.python == "3.12"
    assert base.debs is not None and base.debs.packages[0] == "python3.12"


def test_configured_sources_and_packages(tmp_path: Path) -> None:
    config = _config(tmp_path, {
        "python": "3.11",
        "apt-sources": ["http://deb.debian.org/debian bookworm main"],
        "apt-keyring": DEBIAN_KEYRING,
        "apt-packages": {"curl": "7.88.1-10+deb12u8"},
        "platform": "linux/arm64",
    })
    base = adopt_python_source(config, _cuda_base("3.11"), _lock(tmp_path))
    assert base.debs == DebRequest(
        sources=("http://deb.debian.org/debian bookworm main",), keyring=DEBIAN_KEYRING,
        architecture="arm64", packages=("python3.11", "python3.11-venv", "curl=7.88.1-10+deb12u8"),
        python_from_debs=True,
    )


def test_python_base_is_unchanged_unless_os_packages_are_asked(tmp_path: Path) -> None:
    base = _python_base()
    assert adopt_python_source(_config(tmp_path, {}), base, _lock(tmp_path)) is base
    config = _config(tmp_path, {"apt-packages": {"curl": "7.88.1-10+deb12u8"}})
    adopted = adopt_python_source(config, base, _lock(tmp_path))
    assert adopted.target == base.target
    assert adopted.debs is not None and not adopted.debs.python_from_debs
    assert adopted.debs.packages == ("curl=7.88.1-10+deb12u8",)
    assert adopted.debs.keyring == DEBIAN_KEYRING  # python:*-bookworm -> Debian


def test_image_python_on_a_python_less_base_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="has no Python"):
        adopt_python_source(_config(tmp_path, {"python-source": "image"}), _cuda_base(),
                            _lock(tmp_path))


def test_unknown_os_needs_explicit_sources(tmp_path: Path) -> None:
    base = dataclasses.replace(_cuda_base(), cuda=choose_cuda_base("12.4", os="ubi9"))
    with pytest.raises(ConfigError, match="set apt-sources and apt-keyring"):
        adopt_python_source(_config(tmp_path, {}), base, _lock(tmp_path))


# ------------------------------------------------------------------ pins


def _request(debs: DebSet) -> DebRequest:
    return DebRequest(sources=debs.sources, keyring=debs.keyring,
                      architecture=debs.architecture, packages=debs.packages,
                      python_from_debs=True)


def test_pins_round_trip_and_survive_image_updates(tmp_path: Path) -> None:
    debs = _cached_set()
    pins = PinFile(path=tmp_path / "reprobuild.pins.json")
    record_debs(pins, debs)
    assert pins.changed
    pins.save()
    loaded = PinFile.load(pins.path)
    assert pinned_debs(loaded, _request(debs)) == dataclasses.replace(
        debs, debs=tuple(sorted(debs.debs, key=lambda d: d.filename)))
    from reprobuild.generate.pins import PinnedImage

    loaded.get("python:3.11-slim-bookworm", resolver=lambda _: PinnedImage("sha256:" + "1" * 64))
    loaded.save()  # saving an image pin keeps the debs section
    assert pinned_debs(PinFile.load(pins.path), _request(debs)).debs == loaded_debs(pins.path)
    record_debs(loaded, debs)
    assert not loaded.changed  # same closure: nothing to write


def loaded_debs(path: Path) -> tuple[DebPin, ...]:
    return tuple(DebPin(**d) for d in json.loads(path.read_text())["debs"]["amd64"]["debs"])


def test_missing_and_stale_pins_say_what_to_run(tmp_path: Path) -> None:
    debs = _cached_set()
    pins = PinFile(path=tmp_path / "reprobuild.pins.json")
    with pytest.raises(UnpinnedDebsError, match="run `reprobuild fetch`"):
        pinned_debs(pins, _request(debs))
    record_debs(pins, debs)
    other = dataclasses.replace(_request(debs), packages=("python3.11",))
    with pytest.raises(UnpinnedDebsError, match="--update-debs"):
        pinned_debs(pins, other)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("package", "python3.11; rm -rf /"),
        ("sha256", "abc"),
        ("url", "http://deb.debian.org/debian/pool/main/x/$(reboot).deb"),
        ("version", "1.0 && true"),
    ],
)
def test_malformed_pins_are_refused(tmp_path: Path, field: str, value: str) -> None:
    debs = _cached_set()
    pins = PinFile(path=tmp_path / "reprobuild.pins.json")
    record_debs(pins, debs)
    pins.other["debs"]["amd64"]["debs"][0][field] = value
    with pytest.raises(ConfigError, match=r"not a valid \.deb pin|invalid field"):
        pinned_debs(pins, _request(debs))


def test_checksum_file_lists_every_deb_sorted() -> None:
    debs = _cached_set()
    lines = debs_sha256_text(debs).splitlines()
    assert len(lines) == len(debs.debs)
    assert lines == sorted(lines, key=lambda line: line.split("  ")[1])
    assert all(len(line.split("  ")[0]) == 64 and line.endswith(".deb") for line in lines)


# ------------------------------------------------------------------ apt's verification


@pytest.fixture
def mirror() -> Iterator[Path]:
    """A copy of the cached archive that apt's unprivileged downloader (_apt) can read
    (pytest's tmp_path is private to root)."""
    if not (MIRROR / "dists" / "bookworm" / "InRelease").is_file():
        pytest.fail(f"{MIRROR} is missing: run `python scripts/prefetch_test_wheels.py`")
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed on this host")
    top = Path(tempfile.mkdtemp(prefix="reprobuild-test-mirror-"))
    top.chmod(0o755)
    shutil.copytree(MIRROR, top / "mirror")
    yield top / "mirror"
    shutil.rmtree(top)


def _file_request(mirror: Path, keyring: str = DEBIAN_KEYRING, *packages: str) -> DebRequest:
    return DebRequest(sources=(f"file:{mirror} bookworm main",), keyring=keyring,
                      architecture="amd64", packages=packages or ("python3.11",),
                      python_from_debs=True)


def test_apt_resolves_the_closure_from_the_signed_index(mirror: Path) -> None:
    resolved = resolve_debs(
        _file_request(mirror, DEBIAN_KEYRING, "python3.11", "python3.11-venv")
    )
    names = {d.package for d in resolved.debs}
    assert {"python3.11", "python3.11-minimal", "libpython3.11-stdlib", "python3.11-venv",
            "libc6"} <= names
    assert all(d.url.startswith(f"file:{mirror}/pool/main/") for d in resolved.debs)
    # Same sha256 as the HTTP resolution at setup time for every file both name (the
    # suites' -updates/-security versions are only in the HTTP one).
    http = {d.filename: d.sha256 for d in _cached_set().debs}
    common = [d for d in resolved.debs if d.filename in http]
    assert len(common) >= 20
    assert all(http[d.filename] == d.sha256 for d in common)


def test_tampered_index_is_refused(mirror: Path) -> None:
    packages = mirror / "dists" / "bookworm" / "main" / "binary-amd64" / "Packages.xz"
    import lzma

    text = lzma.decompress(packages.read_bytes()).replace(
        b"Package: python3.11\n", b"Package: python3.11\nDepends: evil\n", 1)
    packages.write_bytes(lzma.compress(text, preset=0))  # valid xz, other bytes
    with pytest.raises(AptError, match=r"update failed: .*Hash Sum mismatch"):
        resolve_debs(_file_request(mirror))


def test_wrong_keyring_is_refused(mirror: Path) -> None:
    keyring = "/usr/share/keyrings/debian-archive-bullseye-stable.gpg"
    if not Path(keyring).is_file():
        pytest.skip(f"{keyring} is not installed")
    with pytest.raises(AptError, match=r"update failed: .*(NO_PUBKEY|not signed)"):
        resolve_debs(_file_request(mirror, keyring))


def test_unknown_package_is_refused(mirror: Path) -> None:
    with pytest.raises(AptError, match="no-such-package"):
        resolve_debs(_file_request(mirror, DEBIAN_KEYRING, "no-such-package"))


# ------------------------------------------------------------------ downloads


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the test tried to reach {request.url}")


def test_fetch_from_cache_places_exactly_the_pins(tmp_path: Path) -> None:
    debs = _cached_set()
    destination = tmp_path / "debs"
    destination.mkdir()
    (destination / "stale_1.0_amd64.deb").write_bytes(b"old")
    with httpx.Client(transport=httpx.MockTransport(_refuse)) as client:
        report = fetch_debs(debs.debs, destination, cache=BlobCache(TEST_CACHE), client=client)
    assert report.downloaded == 0 and report.from_cache == len(debs.debs)
    assert sorted(p.name for p in destination.iterdir()) == sorted(d.filename for d in debs.debs)


def test_download_that_does_not_match_the_pin_is_discarded(tmp_path: Path) -> None:
    pin = DebPin(package="demo", version="1.0", architecture="all",
                 url="http://deb.debian.org/debian/pool/main/d/demo/demo_1.0_all.deb",
                 sha256="0" * 64, size=4)
    cache = BlobCache(tmp_path / "cache")
    with (
        httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, content=b"evil")))
        as client,
        pytest.raises(HashMismatchError, match=r"demo 1\.0"),
    ):
        fetch_debs([pin], tmp_path / "debs", cache=cache, client=client)
    assert cache.get("0" * 64) is None
    # Nothing is placed before every download is verified.
    assert not (tmp_path / "debs").exists() or not list((tmp_path / "debs").iterdir())


class _NoNetwork(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"the test tried to reach {request.url}")


def test_cli_fetch_resolves_records_and_generate_uses_the_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unpinned: `reprobuild fetch` resolves (apt stubbed with the setup-time closure),
    records the pins, fills .reprobuild/debs; `generate --offline` then writes the sums."""
    debs = _cached_set()
    calls: list[DebRequest] = []

    def resolve(request: DebRequest) -> DebSet:
        calls.append(request)
        return debs

    monkeypatch.setattr("reprobuild.fetch.debian.resolve_debs", resolve)
    real = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda *a, **k: real(*a, **{**k, "transport": _NoNetwork()})
    )
    project = tmp_path / "p"
    shutil.copytree(ROOT / "examples" / "cuda-torch-style", project)
    with (project / "pyproject.toml").open("a") as handle:
        handle.write(f'python = "3.11"\napt-sources = {json.dumps(list(debs.sources))}\n'
                     f'apt-keyring = "{DEBIAN_KEYRING}"\n')
    (project / "reprobuild.pins.json").write_text(json.dumps({
        "schema": "reprobuild.pins/1",
        "images": {"nvidia/cuda:12.4.1-base-ubuntu22.04": {"digest": "sha256:" + "3" * 64}},
    }))
    fetched = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(TEST_CACHE)])
    assert fetched.exit_code == 0, fetched.output
    assert calls == [_request(debs)]
    assert f"pinned {len(debs.debs)} .debs" in fetched.output
    assert len(list((project / ".reprobuild" / "debs").iterdir())) == len(debs.debs)
    again = runner.invoke(app, ["fetch", str(project), "--cache-dir", str(TEST_CACHE)])
    assert again.exit_code == 0 and len(calls) == 1  # pinned now: apt is not asked again
    generated = runner.invoke(app, ["generate", str(project), "--offline"])
    assert generated.exit_code == 0, generated.output
    assert (project / ".reprobuild" / "debs.sha256").read_text() == debs_sha256_text(debs)
    assert "FROM os AS deps" in (project / "Dockerfile").read_text()
