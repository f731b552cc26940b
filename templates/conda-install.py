"""Install exactly the conda archives a reprobuild manifest lists into a prefix.

Runs in the image's builder stage, in a throwaway venv holding py-rattler (installed from
a hash-pinned wheel). No solver and no network: every archive must be in ``packages/``
next to the manifest, match the manifest's sha256 (or md5, when that is all the lock
gave) and carry the name, version and build the lock pinned; nothing else may be there.
rattler does not check a local file's hash itself, hence the check here.

    python -I install.py /tmp/reprobuild/conda/packages.json /opt/conda

Generated into the build context by ``reprobuild fetch``; its sha256 is checked by the
Dockerfile before it runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path

SCHEMA = "reprobuild.conda-packages/1"


def fail(message: str) -> None:
    print(f"reprobuild conda install: {message}", file=sys.stderr)
    raise SystemExit(1)


def digests(path: Path) -> tuple[str, str]:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


async def install(manifest_path: Path, prefix: Path) -> None:
    import rattler

    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("schema") != SCHEMA:
        fail(f"{manifest_path}: not a {SCHEMA} manifest")
    directory = manifest_path.parent / "packages"
    entries = manifest["packages"]
    present = sorted(p.name for p in directory.iterdir())
    wanted = sorted(e["filename"] for e in entries)
    if present != wanted:
        extra = sorted(set(present) - set(wanted))
        missing = sorted(set(wanted) - set(present))
        fail(f"packages/ does not hold exactly the lock's archives: missing {missing}, "
             f"unexpected {extra}; run `reprobuild fetch`")
    records = []
    for entry in entries:
        path = directory / entry["filename"]
        sha256, md5 = digests(path)
        if entry["sha256"] is not None and sha256 != entry["sha256"]:
            fail(f"{path.name}: sha256 {sha256}, the lock pins {entry['sha256']}")
        if entry["sha256"] is None and (entry["md5"] is None or md5 != entry["md5"]):
            fail(f"{path.name}: md5 {md5}, the lock pins {entry['md5']}")
        record = await rattler.RepoDataRecord.from_package_archive(path)
        found = (record.name.normalized, str(record.version), str(record.build))
        expected = (entry["name"], entry["version"], entry["build"])
        if found != expected:
            fail(f"{path.name}: info/index.json says {found}, the lock pins {expected}")
        # The conda-meta record carries both digests of the archive actually installed
        # (rattler computes only the sha256 of a local file).
        record.sha256 = bytes.fromhex(sha256)
        record.md5 = bytes.fromhex(md5)
        records.append(record)
    await rattler.install(
        records,
        target_prefix=prefix,
        cache_dir=manifest_path.parent / "pkgs-cache",
        execute_link_scripts=False,
        show_progress=False,
    )
    # rattler writes the conda-meta records owner-only (0600); the image runs as a
    # non-root user by default, and conda tooling there must be able to read them.
    for record_file in (prefix / "conda-meta").iterdir():
        record_file.chmod(0o644)
    print(f"reprobuild conda install: {len(records)} packages into {prefix}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: install.py MANIFEST PREFIX")
    asyncio.run(install(Path(sys.argv[1]), Path(sys.argv[2])))
