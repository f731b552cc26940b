"""Find the build's date or time inside an image's files.

Two builds seconds apart cannot show a value that changes once a day (``useradd``
writes the day count since 1970 into /etc/shadow) or one that a rebuild on the same day
repeats. This scan looks in the layers' file *contents* (metadata is normalize's job)
for the build time in the forms that tools write: day counts in shadow files, Unix
seconds, calendar dates, the source mtime in timestamp-mode .pyc headers, the gzip
header mtime — and in the config (e.g. a label holding the build date).
"""

from __future__ import annotations

import re
import struct
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO

from reprobuild.image.diff import open_saved

__all__ = ["BuildTimeFinding", "scan_for_build_time"]

MAX_FILE_BYTES = 16 << 20  # larger files are skipped (models, archives): not text records
EXCERPT = 40
_SECONDS = re.compile(rb"(?<![0-9])1[0-9]{9}(?![0-9])")
_SHADOW_DAYS = re.compile(rb"^[^:\n]*:[^:\n]*:([0-9]{4,6}):", re.MULTILINE)
_DATE_FORMATS = ("%Y-%m-%d", "%a %b %e", "%d %b %Y", "%d/%b/%Y", "%b %e %Y")


@dataclass(frozen=True)
class BuildTimeFinding:
    layer: int | None  # None: the config
    path: str  # "/etc/shadow", or the config field
    kind: str  # "day-count", "unix-seconds", "date", "pyc-timestamp", "gzip-mtime"
    excerpt: str

    def render(self) -> str:
        where = f"layer {self.layer}" if self.layer is not None else "config"
        return f"{where}: {self.path}: {self.kind}: {self.excerpt}"


@dataclass(frozen=True)
class _Window:
    start: int  # unix seconds
    end: int

    @property
    def days(self) -> range:
        return range(self.start // 86400, self.end // 86400 + 1)

    def date_patterns(self) -> re.Pattern[bytes]:
        texts: set[bytes] = set()
        for day in self.days:
            moment = datetime.fromtimestamp(day * 86400, UTC)
            texts.update(moment.strftime(fmt).encode() for fmt in _DATE_FORMATS)
        return re.compile(b"|".join(re.escape(t) for t in sorted(texts)))

    def holds(self, seconds: int) -> bool:
        return self.start <= seconds <= self.end


def scan_for_build_time(
    saved: Path,
    when: datetime,
    *,
    skip_layers: int = 0,
    slack: timedelta = timedelta(hours=6),
) -> list[BuildTimeFinding]:
    """Occurrences of `when` (± `slack`) in a `docker save` archive's files and config.

    `skip_layers` leaves out the first layers (the base image's, built at another time).
    """
    moment = when if when.tzinfo else when.replace(tzinfo=UTC)
    window = _Window(int((moment - slack).timestamp()), int((moment + slack).timestamp()))
    dates = window.date_patterns()
    findings: list[BuildTimeFinding] = []
    with open_saved(saved) as image:
        findings += [
            BuildTimeFinding(None, "config", kind, excerpt)
            for kind, excerpt in _scan_text(image.config_bytes, window, dates)
        ]
        for index in range(skip_layers, len(image.manifest.layer_paths)):
            with image.layer(index) as stream:
                findings += _scan_layer(index, stream, window, dates)
    return findings


def _scan_layer(
    index: int, stream: IO[bytes], window: _Window, dates: re.Pattern[bytes]
) -> Iterator[BuildTimeFinding]:
    with tarfile.open(fileobj=stream, mode="r|*") as layer:
        for member in layer:
            if not member.isreg() or member.size > MAX_FILE_BYTES:
                continue
            if PurePosixPath(member.name).name.startswith(".wh."):
                continue
            data_file = layer.extractfile(member)
            if data_file is None:
                continue
            with data_file:
                data = data_file.read()
            path = "/" + member.name.removeprefix("./").lstrip("/")
            for kind, excerpt in _scan_file(path, data, window, dates):
                yield BuildTimeFinding(index, path, kind, excerpt)


def _scan_file(
    path: str, data: bytes, window: _Window, dates: re.Pattern[bytes]
) -> Iterator[tuple[str, str]]:
    name = PurePosixPath(path).name
    if "shadow" in name:
        for match in _SHADOW_DAYS.finditer(data):
            if int(match.group(1)) in window.days:
                yield "day-count", _line(data, match.start(1))
    if name.endswith(".pyc") and len(data) >= 16:
        flags, mtime = struct.unpack_from("<II", data, 4)
        if flags == 0 and window.holds(mtime):
            yield "pyc-timestamp", f"source mtime {mtime} in the header (timestamp-mode pyc)"
    if data[:2] == b"\x1f\x8b" and len(data) >= 8:
        (mtime,) = struct.unpack_from("<I", data, 4)
        if window.holds(mtime):
            yield "gzip-mtime", f"gzip header mtime {mtime}"
    yield from _scan_text(data, window, dates)


def _scan_text(data: bytes, window: _Window, dates: re.Pattern[bytes]) -> Iterator[tuple[str, str]]:
    for match in _SECONDS.finditer(data):
        if window.holds(int(match.group())):
            yield "unix-seconds", _line(data, match.start())
            break  # one per file is enough to name it
    found = dates.search(data)
    if found:
        yield "date", _line(data, found.start())


def _line(data: bytes, offset: int) -> str:
    start = max(data.rfind(b"\n", 0, offset) + 1, offset - EXCERPT)
    end = data.find(b"\n", offset)
    end = min(end if end != -1 else len(data), offset + EXCERPT)
    return data[start:end].decode("utf-8", "replace")
