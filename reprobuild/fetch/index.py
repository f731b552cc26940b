"""Package indexes (PEP 503 HTML / PEP 691 JSON simple API) with the credentials pip users
already have: credentials in the index URL, ``~/.netrc``, ``PIP_INDEX_URL`` /
``PIP_EXTRA_INDEX_URL``. Credentials are kept out of every URL that can be printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from reprobuild.errors import ReprobuildError
from reprobuild.models import Lock
from reprobuild.redaction import redact

if TYPE_CHECKING:
    import httpx

__all__ = ["IndexError_", "IndexFile", "SimpleIndex", "index_urls_for", "split_credentials"]

PYPI_SIMPLE = "https://pypi.org/simple"
_JSON = "application/vnd.pypi.simple.v1+json"


class IndexError_(ReprobuildError):
    """A package index could not be read (unreachable, unauthorized, not an index)."""


@dataclass(frozen=True, slots=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, (unquote(parts.username), unquote(parts.password or ""))


def index_urls_for(lock: Lock) -> list[str]:
    """The indexes to look packages up in: the lock's own, else pip's environment, else PyPI."""
    primary = lock.indexes.index_url or os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE
    extras = list(lock.indexes.extra_index_urls)
    extras += os.environ.get("PIP_EXTRA_INDEX_URL", "").split()
    return [primary, *[u for u in extras if u and u != primary]]


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


class SimpleIndex:
    """One index; lookups by project name return its files with their sha256."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client = client
        self.url, self.auth = split_credentials(url.rstrip("/") + "/")
        self.display = redact(url)

    def _auth(self) -> httpx.Auth | tuple[str, str] | None:
        if self.auth is not None:
            return self.auth
        import httpx

        netrc = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
        return httpx.NetRCAuth(str(netrc)) if netrc.is_file() else None

    def files(self, name: str) -> list[IndexFile]:
        import httpx

        page = urljoin(self.url, f"{name}/")
        try:
            response = self.client.get(
                page,
                headers={"Accept": f"{_JSON}, text/html;q=0.1"},
                auth=self._auth() or httpx.USE_CLIENT_DEFAULT,
                follow_redirects=True,
            )
        except httpx.HTTPError as exc:
            raise IndexError_(
                f"cannot reach the package index {self.display}: {type(exc).__name__}"
            ) from None
        if response.status_code == 404:
            return []
        if response.status_code in (401, 403):
            raise IndexError_(
                f"the package index {self.display} refused access ({response.status_code}); "
                "put credentials in the index URL, ~/.netrc or PIP_INDEX_URL"
            )
        if response.status_code != 200:
            raise IndexError_(
                f"the package index {self.display} answered {response.status_code} for {name}"
            )
        base = str(response.url)
        if response.headers.get("content-type", "").startswith(_JSON):
            return [
                IndexFile(
                    filename=f["filename"],
                    url=urljoin(base, f["url"]),
                    sha256=(f.get("hashes") or {}).get("sha256"),
                )
                for f in response.json().get("files", [])
                if isinstance(f, dict) and "filename" in f and "url" in f
            ]
        parser = _Anchors()
        parser.feed(response.text)
        files = []
        for href, text in parser.links:
            url, _, fragment = urljoin(base, href).partition("#")
            algo, _, value = fragment.partition("=")
            filename = text or unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            files.append(
                IndexFile(filename=filename, url=url, sha256=value if algo == "sha256" else None)
            )
        return files
