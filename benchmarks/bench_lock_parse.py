"""Lockfile parsing benchmark: reprobuild's readers vs pip's own requirements parser.

Prints, for each corpus lockfile and a synthetic 5,000-package hashed requirements lock,
the parse time per package; for requirements files pip's parser
(``pip._internal.req.req_file.parse_requirements``) runs on the same file in the same
process, side by side. Then the cold wall time of ``reprobuild lint`` on one lockfile
(a fresh interpreter each run, as pre-commit starts it). Prints figures; asserts nothing.

    python benchmarks/bench_lock_parse.py [--repeat N]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "lockfiles"
sys.path.insert(0, str(ROOT))

from reprobuild.errors import LockParseError  # noqa: E402
from reprobuild.lockfiles import detect_format, read_lock  # noqa: E402
from reprobuild.models import LockFormat  # noqa: E402


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def pip_parse(path: Path) -> int:
    from pip._internal.network.session import PipSession
    from pip._internal.req.req_file import parse_requirements

    return sum(1 for _ in parse_requirements(str(path), session=PipSession()))


def synthetic_lock(directory: Path, count: int = 5000) -> Path:
    lines = ["# synthetic pip-compile --generate-hashes style lock"]
    for i in range(count):
        h1 = hashlib.sha256(f"{i}-a".encode()).hexdigest()
        h2 = hashlib.sha256(f"{i}-b".encode()).hexdigest()
        lines.append(f"package-{i}=={i % 50}.{i % 7}.{i % 3} \\")
        lines.append(f"    --hash=sha256:{h1} \\")
        lines.append(f"    --hash=sha256:{h2}")
        lines.append("    # via -r requirements.in")
    path = directory / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        files = sorted(CORPUS.glob("*")) if CORPUS.is_dir() else []
        if not files:
            print(f"(corpus not found at {CORPUS}; synthetic lock only)")
        files.append(synthetic_lock(Path(tmp)))
        header = ("file", "format", "pkgs", "reprobuild", "pip", "ratio")
        print("{:<62} {:<15} {:>5} {:>12} {:>12} {:>7}".format(*header))
        print(f"{'':<62} {'':<15} {'':>5} {'us/pkg':>12} {'us/pkg':>12} {'pip/rb':>7}")
        for path in files:
            fmt = detect_format(path, path.read_bytes())
            if fmt is None:
                print(f"{path.name[:62]:<62} {'(not a lock)':<15}")
                continue
            try:
                count = len(read_lock(path).packages)
            except LockParseError as exc:
                print(f"{path.name[:62]:<62} {fmt.value:<15} error: {exc.reason}")
                continue
            ours = best_of(args.repeat, lambda p=path: read_lock(p))  # type: ignore[misc]
            per = ours / max(count, 1) * 1e6
            pip_col, ratio = "", ""
            if fmt is LockFormat.REQUIREMENTS:
                theirs = best_of(args.repeat, lambda p=path: pip_parse(p))  # type: ignore[misc]
                pip_col = f"{theirs / max(count, 1) * 1e6:12.1f}"
                ratio = f"{theirs / ours:7.2f}"
            synthetic = path.parent == Path(tmp)
            label = "synthetic 5,000-package hashed lock" if synthetic else path.name
            print(
                f"{label[:62]:<62} {fmt.value:<15} {count:5d} {per:12.1f} {pip_col:>12} {ratio:>7}"
            )

        lockfile = ROOT / "examples" / "pip-requirements" / "requirements.txt"
        exe = Path(sys.executable).with_name("reprobuild")
        walls = []
        for _ in range(max(args.repeat, 5)):
            start = time.perf_counter()
            subprocess.run([str(exe), "lint", str(lockfile)], capture_output=True, check=False)
            walls.append(time.perf_counter() - start)
        print(
            f"\nreprobuild lint {lockfile.relative_to(ROOT)} (cold process): "
            f"median {statistics.median(walls) * 1000:.0f} ms, best {min(walls) * 1000:.0f} ms "
            "(aim: < 150 ms)"
        )


if __name__ == "__main__":
    main()
