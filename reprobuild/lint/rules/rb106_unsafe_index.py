"""## What it does
Flags index configuration that lets someone other than the intended index decide what
gets installed:

- an index, `--find-links` location, package source or conda channel reached over plain
  `http://` (error);
- `--trusted-host`, which turns off TLS certificate checks for a host (error);
- `--extra-index-url`, or a lock drawing packages from several indexes (warning).

## Why is this bad?
Over plain HTTP, or with certificate checks off, anyone on the network path can serve
their own files. With several indexes, pip takes the highest version found on *any* of
them: publishing a package named like your private one on the public index
("dependency confusion") replaces it at the next lock.

## Example
```text
--index-url http://pypi.internal/simple
--extra-index-url https://download.pytorch.org/whl/cu121
--trusted-host pypi.internal
torch==2.3.1
```

Use instead:
```text
--index-url https://pypi.internal/simple
torch==2.3.1 --hash=sha256:…
```

## Fix
Use `https://` and a proper certificate (`--cert` or `PIP_CERT` for a private CA)
instead of `--trusted-host`. Serve everything through one index (a proxying private
index), or pin each private package to its index: uv `[[tool.uv.index]] explicit = true`
with `[tool.uv.sources]`, poetry `priority = "explicit"`. Hashes in the lock
(RB101) also stop a swapped file from installing.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation
from reprobuild.lint.rules._lockpkg import is_compiled_input, redact
from reprobuild.models import IndexConfig, Lock, LockFormat, SourceKind

__all__ = ["RULE", "check"]


def _is_plain_http(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() == "http"


def _line(indexes: IndexConfig, option: str, value: str) -> int | None:
    """Where `option value` was set (readers record `("--option value", line)`)."""
    wanted = f"{option} {value}".strip()
    for text, line in indexes.line_of:
        if " ".join(text.split()) == wanted:
            return line
    for text, line in indexes.line_of:  # another spelling (`--opt=value`): match the value
        if text.startswith(option) and text.rstrip().endswith(value):
            return line
    return None


def _at(
    indexes: IndexConfig, option: str, value: str, message: str, severity: Severity
) -> Violation:
    return Violation(message=message, line=_line(indexes, option, value), severity=severity)


_HTTPS_HINT = "use https:// (with --cert for a private CA)"
_PYPI = "https://pypi.org/simple"
_PER_PACKAGE_INDEX_FORMATS = frozenset({LockFormat.POETRY, LockFormat.UV, LockFormat.PYLOCK})


def _plain_http(indexes: IndexConfig) -> Iterator[Violation]:
    options = [("--index-url", indexes.index_url)] if indexes.index_url else []
    options += [("--find-links", url) for url in indexes.find_links]
    for option, url in options:
        if _is_plain_http(url):
            yield _at(
                indexes,
                option,
                url,
                f"{option} {redact(url)} is plain HTTP: anyone on the network path can serve "
                f"other files; {_HTTPS_HINT}",
                Severity.ERROR,
            )
    for name, url in indexes.sources:
        if _is_plain_http(url):
            yield _at(
                indexes,
                "source",
                name,
                f"package source {name!r} ({redact(url)}) is plain HTTP: anyone on the network "
                f"path can serve other files; {_HTTPS_HINT}",
                Severity.ERROR,
            )
    for channel in indexes.channels:
        if _is_plain_http(channel):
            yield _at(
                indexes,
                "channel",
                channel,
                f"conda channel {redact(channel)} is plain HTTP: anyone on the network path can "
                "serve other packages; use the https:// channel URL",
                Severity.ERROR,
            )


def _extra_indexes(indexes: IndexConfig) -> Iterator[Violation]:
    option = "--extra-index-url"
    for url in indexes.extra_index_urls:
        if _is_plain_http(url):
            yield _at(
                indexes,
                option,
                url,
                f"{option} {redact(url)} is plain HTTP, and an extra index is open to "
                f"dependency confusion; {_HTTPS_HINT} and serve all packages from one index",
                Severity.ERROR,
            )
        else:
            yield _at(
                indexes,
                option,
                url,
                f"{option} {redact(url)}: pip takes the highest version found on any index, so "
                "a same-named package on another index can replace yours (dependency "
                "confusion); serve all packages from one index or pin each private package "
                "to its index",
                Severity.WARNING,
            )


def _several_indexes(lock: Lock) -> Iterator[Violation]:
    """poetry/uv/pylock record the index of each package: count the distinct ones."""
    if lock.format not in _PER_PACKAGE_INDEX_FORMATS:
        return
    names = {url.rstrip("/"): name for name, url in lock.indexes.sources}
    for package in lock.installed():
        if package.source is not SourceKind.REGISTRY or package.manager != "pip":
            continue
        # A poetry entry without [package.source] comes from PyPI; elsewhere None is unknown.
        url = package.url or (_PYPI if lock.format is LockFormat.POETRY else None)
        if url:
            names.setdefault(url.rstrip("/"), redact(url.rstrip("/")))
    if len(names) > 1:
        listed = ", ".join(sorted(names.values()))
        yield Violation(
            message=f"the lock draws packages from {len(names)} indexes ({listed}): unless "
            "each private package is pinned to its index (uv explicit = true, poetry "
            'priority = "explicit"), a same-named package on another index can replace it '
            "when the lock is next updated (dependency confusion)",
            severity=Severity.WARNING,
        )


def check(lock: Lock) -> Iterator[Violation]:
    if is_compiled_input(lock):
        return
    indexes = lock.indexes
    yield from _plain_http(indexes)
    for host in indexes.trusted_hosts:
        yield _at(
            indexes,
            "--trusted-host",
            host,
            f"--trusted-host {host} turns off TLS certificate checks for that host, so a "
            "man in the middle can serve other files; remove it and give pip the CA "
            "certificate instead (--cert or PIP_CERT)",
            Severity.ERROR,
        )
    yield from _extra_indexes(indexes)
    yield from _several_indexes(lock)


RULE = Rule(
    code="RB106",
    name="unsafe-index",
    severity=Severity.ERROR,
    summary="Index configuration open to tampering or dependency confusion",
    target=Target.LOCK,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.NONE,
    fix_title="Use one https:// index with certificate checks",
)
