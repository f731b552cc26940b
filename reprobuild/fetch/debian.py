"""The distribution's .debs, resolved with apt on the host and downloaded hash-verified.

Resolution runs the host's own ``apt-get`` in a private state directory (nothing of the
host's apt configuration, lists or dpkg status is read or written): ``update`` verifies
each suite's ``InRelease`` against the configured keyring (``signed-by``) and the
``Packages`` indexes against the signed hashes, and ``install --print-uris`` against an
empty dpkg status lists the whole closure with each file's sha256 from that index.
apt is used rather than a hand-written OpenPGP/Release/Packages checker: it is the
distribution's own verifier, with its rules for expiry, weak digests and by-hash.

Downloads need no apt: each pinned file is fetched by URL into the content-addressed
cache and kept only if its sha256 is the pinned one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from reprobuild.errors import ReprobuildError
from reprobuild.fetch.cache import BlobCache
from reprobuild.fetch.fetcher import FetchReport, cache_file, place_exactly
from reprobuild.generate.python_source import DebPin, DebRequest, DebSet
from reprobuild.redaction import redact

if TYPE_CHECKING:
    import httpx

__all__ = ["AptError", "fetch_debs", "resolve_debs"]


class AptError(ReprobuildError):
    """apt refused the archive (bad signature, unknown package…) or is not installed."""


def _apt_options(state: Path, architecture: str) -> list[str]:
    """Point every apt path at ``state``; ignore the host's configuration."""
    return [
        "-o", f"Dir={state}",
        "-o", f"Dir::State::status={state / 'status'}",
        "-o", f"Dir::Etc::sourcelist={state / 'sources.list'}",
        "-o", f"Dir::Etc::sourceparts={state / 'sources.list.d'}",
        "-o", "Dir::Etc::main=/dev/null",
        "-o", f"Dir::Etc::parts={state / 'apt.conf.d'}",
        "-o", "Dir::Etc::preferences=/dev/null",
        "-o", f"Dir::Etc::preferencesparts={state / 'preferences.d'}",
        "-o", f"Dir::Cache={state / 'cache'}",
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"APT::Architecture={architecture}",
        "-o", "APT::Architectures::=",
        "-o", f"APT::Architectures::={architecture}",
        "-o", "APT::Install-Recommends=false",
        "-o", "Debug::NoLocking=1",
        "-o", "Acquire::Languages=none",
        "-o", "Acquire::AllowInsecureRepositories=false",
        "-o", "Acquire::AllowDowngradeToInsecureRepositories=false",
    ]


def _prepare(state: Path, request: DebRequest) -> None:
    for sub in ("sources.list.d", "apt.conf.d", "preferences.d", "cache/archives/partial",
                "lists/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").write_text("")
    lines = [
        f"deb [signed-by={request.keyring} arch={request.architecture}] {source}\n"
        for source in request.sources
    ]
    (state / "sources.list").write_text("".join(lines))


def _environment() -> dict[str, str]:
    """C locale (messages are parsed); proxies pass through, nothing else of the host's."""
    keep = {k: v for k, v in os.environ.items() if k.lower() in _PROXY_VARIABLES}
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", **keep}


_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "no_proxy"})


def _run(program: str, args: list[str], what: str) -> str:
    apt_get = shutil.which(program)
    if apt_get is None:
        raise AptError(
            f"{program} is not installed: resolving .debs needs a Debian or Ubuntu host "
            "(or pins already in the pin file)"
        )
    proc = subprocess.run(
        [apt_get, *args], capture_output=True, text=True, check=False,
        env=_environment(),
    )
    problems = [
        line for line in proc.stderr.splitlines() + proc.stdout.splitlines()
        if line.startswith(("E:", "W:", "Err:"))
    ]
    # apt reports a bad signature as W: (and then ignores the suite); treat it as fatal.
    if proc.returncode != 0 or any(line.startswith(("E:", "Err:")) for line in problems) or any(
        "GPG error" in line or "not signed" in line or "Hash Sum mismatch" in line
        for line in problems
    ):
        problems.sort(key=lambda line: not line.startswith(("E:", "Err:")) and "GPG" not in line)
        detail = "; ".join(redact(line) for line in problems[:4]) or proc.stderr.strip()[-400:]
        raise AptError(f"{program} {what} failed: {detail}")
    return proc.stdout


def _parse_uris(stdout: str) -> list[tuple[str, str, str]]:
    """(package, version, URI) from the ``'URI' name_version_arch.deb SIZE HASH`` lines of
    ``--print-uris`` (whose hash is apt's choice, MD5 here: the sha256 comes from
    ``apt-cache show``)."""
    found = []
    for line in stdout.splitlines():
        if line.startswith("'"):
            uri, filename = line.split()[:2]
            package, version, _ = unquote(filename).removesuffix(".deb").split("_")
            found.append((package, version, uri.strip("'")))
    return found


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """deb822 paragraphs (only single-line fields are needed here)."""
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def _pins(show: str, wanted: list[tuple[str, str, str]], request: DebRequest) -> list[DebPin]:
    """Each wanted package's stanza from the verified index -> its pin (sha256, URL)."""
    stanzas: dict[tuple[str, str], list[dict[str, str]]] = {}
    for paragraph in _stanzas(show):
        key = (paragraph.get("Package", ""), paragraph.get("Version", ""))
        stanzas.setdefault(key, []).append(paragraph)
    pins = []
    for package, version, uri in wanted:
        # The same version can be in two suites (bookworm, bookworm-updates): take the
        # stanza whose Filename is the file apt would download.
        path = unquote(uri)
        candidates = [
            s for s in stanzas.get((package, version), [])
            if "Filename" in s and path.endswith("/" + s["Filename"])
        ]
        stanza = candidates[0] if candidates else None
        if stanza is None or not stanza.get("SHA256"):
            raise AptError(f"the archive index gives no sha256 for {package} {version}")
        pins.append(
            DebPin(
                package=package,
                version=version,
                architecture=stanza.get("Architecture", request.architecture),
                url=uri,
                sha256=stanza["SHA256"].lower(),
                size=int(stanza.get("Size", "0")),
            )
        )
    return sorted(pins, key=lambda p: p.filename)


def resolve_debs(request: DebRequest, *, workdir: Path | None = None) -> DebSet:
    """The closure of ``request.packages`` with the signed index's sha256 of each file."""
    with tempfile.TemporaryDirectory(prefix="reprobuild-apt-", dir=workdir) as tmp:
        state = Path(tmp)
        state.chmod(0o755)  # apt downloads as the unprivileged _apt user (its sandbox)
        _prepare(state, request)
        options = _apt_options(state, request.architecture)
        _run("apt-get", [*options, "-q", "update"], "update")
        stdout = _run(
            "apt-get",
            [*options, "-qq", "--print-uris", "--no-install-recommends", "-y", "install",
             *request.packages],
            "install --print-uris " + " ".join(request.packages),
        )
        wanted = _parse_uris(stdout)
        show = _run(
            "apt-cache", [*options, "show", *(f"{p}={v}" for p, v, _ in wanted)], "show"
        ) if wanted else ""
    debs = _pins(show, wanted, request)
    if not debs:
        raise AptError(f"apt resolved nothing for {' '.join(request.packages)}")
    return DebSet(
        sources=request.sources,
        keyring=request.keyring,
        architecture=request.architecture,
        packages=request.packages,
        debs=tuple(debs),
    )


def _stream(client: httpx.Client, url: str) -> Iterator[bytes]:
    import httpx

    try:
        with client.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise AptError(f"GET {redact(url)} answered {response.status_code}")
            yield from response.iter_bytes(chunk_size=1 << 16)
    except httpx.HTTPError as exc:
        raise AptError(f"cannot download {redact(url)}: {type(exc).__name__}") from None


def _read_file_url(url: str) -> Iterator[bytes]:
    with Path(unquote(url.removeprefix("file://").removeprefix("file:"))).open("rb") as handle:
        yield from iter(lambda: handle.read(1 << 16), b"")


def fetch_debs(
    debs: Sequence[DebPin],
    destination: Path,
    *,
    cache: BlobCache,
    client: httpx.Client,
) -> FetchReport:
    """Every pinned .deb into ``destination`` (and nothing else), sha256-verified."""
    report = FetchReport()
    for deb in debs:
        cache_file(
            cache,
            report,
            sha256=deb.sha256,
            filename=deb.filename,
            download=(
                partial(_read_file_url, deb.url)
                if deb.url.startswith("file:")
                else partial(_stream, client, deb.url)
            ),
            what=f"{deb.package} {deb.version} ({deb.url})",
        )
    wanted = {deb.filename: deb.sha256 for deb in debs}
    place_exactly(cache, destination, wanted)
    report.files = sorted(wanted.items())
    return report
