"""Small real conda packages, a channel holding them served on loopback, and locks for it.

A conda package is a ``.tar.bz2`` archive with ``info/index.json``, ``info/paths.json``,
``info/files`` and the payload; the builder here writes them deterministically (sorted
members, mtime 0), so the same inputs give the same bytes and the same hashes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = [
    "Channel",
    "CondaPackage",
    "PipWheel",
    "build_package",
    "conda_lock_yml",
    "demo_packages",
    "explicit_lock",
    "serve_channel",
    "write_channel",
]


@dataclass(frozen=True)
class CondaPackage:
    name: str
    version: str
    build: str
    subdir: str
    data: bytes
    payload: dict[str, bytes]
    """Installed path (relative to the prefix) -> bytes."""

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.tar.bz2"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class PipWheel:
    """A pip entry for a conda-lock.yml (a wheel the test cache holds)."""

    name: str
    version: str
    url: str
    sha256: str


def _tar_bz2(members: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        for path, (data, mode) in sorted(members.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def build_package(
    name: str,
    version: str,
    build: str,
    subdir: str,
    files: dict[str, tuple[bytes, int]],
    *,
    depends: Sequence[str] = (),
) -> CondaPackage:
    index: dict[str, object] = {
        "name": name,
        "version": version,
        "build": build,
        "build_number": int(build.rsplit("_", 1)[-1]),
        "subdir": subdir,
        "depends": list(depends),
        "license": "MIT",
        "timestamp": 1700000000000,
    }
    if subdir == "noarch":
        index["noarch"] = "generic"
    else:
        index["platform"], _, arch = subdir.partition("-")
        index["arch"] = {"64": "x86_64"}.get(arch, arch)
    paths = {
        "paths_version": 1,
        "paths": [
            {
                "_path": path,
                "path_type": "hardlink",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size_in_bytes": len(data),
            }
            for path, (data, _) in sorted(files.items())
        ],
    }
    members = {
        "info/index.json": (json.dumps(index, indent=2, sort_keys=True).encode(), 0o644),
        "info/paths.json": (json.dumps(paths, indent=2, sort_keys=True).encode(), 0o644),
        "info/files": ("".join(f"{p}\n" for p in sorted(files)).encode(), 0o644),
        **files,
    }
    return CondaPackage(
        name, version, build, subdir, _tar_bz2(members), {p: d for p, (d, _) in files.items()}
    )


def demo_packages(subdir: str = "linux-64") -> list[CondaPackage]:
    """``hello`` (a ``bin/hello`` script, for ``subdir``) and ``demo-conda`` (noarch,
    a Python module under ``lib/python3.11/site-packages``)."""
    return [
        build_package(
            "hello", "1.0", "h0_0", subdir,
            {"bin/hello": (b"#!/bin/sh\necho hello from a conda package\n", 0o755)},
        ),
        build_package(
            "demo-conda", "0.1", "g0_0", "noarch",
            {
                "lib/python3.11/site-packages/demo_conda/__init__.py": (
                    b'"""Installed from a conda package."""\nVALUE = 42\n', 0o644
                ),
            },
            depends=["hello 1.0"],
        ),
    ]


def write_channel(root: Path, packages: Sequence[CondaPackage]) -> None:
    """``<subdir>/<archive>`` and ``<subdir>/repodata.json`` for every subdir (and noarch)."""
    subdirs = {p.subdir for p in packages} | {"noarch"}
    for subdir in sorted(subdirs):
        (root / subdir).mkdir(parents=True, exist_ok=True)
        entries = {}
        for package in packages:
            if package.subdir != subdir:
                continue
            (root / subdir / package.filename).write_bytes(package.data)
            entries[package.filename] = {
                "name": package.name,
                "version": package.version,
                "build": package.build,
                "build_number": int(package.build.rsplit("_", 1)[-1]),
                "depends": [],
                "subdir": subdir,
                "md5": package.md5,
                "sha256": package.sha256,
                "size": len(package.data),
            }
        repodata = {"info": {"subdir": subdir}, "packages": entries, "packages.conda": {}}
        (root / subdir / "repodata.json").write_text(json.dumps(repodata, indent=2))


@dataclass
class Channel:
    url: str
    root: Path
    hits: Counter[str] = field(default_factory=Counter)
    tampered: dict[str, bytes] = field(default_factory=dict)
    """Request path -> bytes to serve instead of the file's."""


@contextmanager
def serve_channel(root: Path) -> Iterator[Channel]:
    """Serve ``root`` on 127.0.0.1 from a thread; ``Channel.url`` is the channel URL."""
    state = Channel(url="", root=root)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.hits[self.path] += 1
            relative = self.path.removeprefix("/demo/") if self.path.startswith("/demo/") else ""
            file = (root / relative).resolve()
            if self.path in state.tampered:
                body = state.tampered[self.path]
            elif file.is_file() and root.resolve() in file.parents:
                body = file.read_bytes()
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/demo"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def explicit_lock(
    channel_url: str,
    packages: Sequence[CondaPackage],
    subdir: str = "linux-64",
    *,
    md5_only: Sequence[str] = (),
) -> str:
    """An explicit lock (``#sha256:`` fragments; ``#<md5>`` for the names in md5_only)."""
    lines = [f"# platform: {subdir}", "@EXPLICIT"]
    for package in packages:
        url = f"{channel_url}/{package.subdir}/{package.filename}"
        fragment = package.md5 if package.name in md5_only else f"sha256:{package.sha256}"
        lines.append(f"{url}#{fragment}")
    return "\n".join(lines) + "\n"


def conda_lock_yml(
    channel_url: str,
    packages: Mapping[str, Sequence[CondaPackage]],
    *,
    pip: Sequence[PipWheel] = (),
) -> str:
    """A conda-lock.yml (lockfile version 1): platform -> its packages (plus the pip
    wheels, for every platform)."""
    import yaml

    platforms = list(packages)
    entries: list[dict[str, object]] = []
    for platform in platforms:
        for package in packages[platform]:
            entries.append(
                {
                    "name": package.name,
                    "version": package.version,
                    "manager": "conda",
                    "platform": platform,
                    "dependencies": {},
                    "url": f"{channel_url}/{package.subdir}/{package.filename}",
                    "hash": {"md5": package.md5, "sha256": package.sha256},
                    "category": "main",
                    "optional": False,
                }
            )
        for wheel in pip:
            entries.append(
                {
                    "name": wheel.name,
                    "version": wheel.version,
                    "manager": "pip",
                    "platform": platform,
                    "dependencies": {},
                    "url": wheel.url,
                    "hash": {"sha256": wheel.sha256},
                    "category": "main",
                    "optional": False,
                }
            )
    document = {
        "version": 1,
        "metadata": {
            "content_hash": {p: "0" * 64 for p in platforms},
            "channels": [{"url": channel_url, "used_env_vars": []}],
            "platforms": list(platforms),
            "sources": ["environment.yml"],
        },
        "package": entries,
    }
    return yaml.safe_dump(document, sort_keys=False)
