"""RB220 add-url-unverified: ``ADD`` of a URL without a checksum, or of git without a commit.

## What it does

Flags ``ADD`` sources that are

* ``http(s)://`` / ``ftp://`` URLs without ``--checksum=sha256:<64 hex>``
  (``sha384:``/``sha512:`` are accepted too);
* git repositories (``git@host:repo``, ``git://``, ``ssh://``, or an ``https://…/x.git``
  URL, optionally with ``#ref``) whose ``#ref`` is not a full commit id (40 hex, or 64
  for SHA-256 repositories) and that have no ``--checksum=<commit id>``.

Local files and archives are not checked.

## Why is this bad?

Whatever the server returns at build time goes into the image, unchecked: a re-uploaded
release asset, a compromised mirror or a captive proxy page. A branch or tag of a git
repository can be moved to another commit at any time. The build is neither
reproducible nor verified.

## Example

```dockerfile
ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini
ADD https://github.com/moby/buildkit.git#v0.14.1 /src
```

## Fix

Add the checksum of the file (``sha256sum`` of a download you trust), and name git
sources by commit:

```dockerfile
ADD --checksum=sha256:93dcc18adc78c65a028a84799ecf8ad40c936fdfc5f2a57b1acda5a8117fa82c \\
    https://github.com/krallin/tini/releases/download/v0.19.0/tini /tini
ADD https://github.com/moby/buildkit.git#2d7c8dd8d7b3f5de5c4da94bd1a6ea1a0a4e2fd1 /src
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext, Instruction
from reprobuild.dockerfile.findings import violation
from reprobuild.lint.rule import Rule, Severity, Target, Violation

_URL = re.compile(r"(?:https?|ftp)://", re.IGNORECASE)
_GIT_TRANSPORT = ("git@", "git://", "ssh://", "git+")
_CHECKSUM = re.compile(r"(?:sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})")
_COMMIT = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for instruction in dockerfile.instructions_of("ADD"):
        checksum = instruction.flag("checksum") or ""
        for source in _sources(instruction):
            resolved = dockerfile.resolve(source, ctx.build_args, stage=instruction.stage)
            url = resolved if resolved is not None else source
            line = instruction.line_of(source)
            if _is_git(url):
                ref = url.partition("#")[2].split(":", 1)[0]
                if _COMMIT.fullmatch(ref) or _COMMIT.fullmatch(checksum):
                    continue
                problem = f"at `{ref}`, which can move" if ref else "with no commit"
                yield violation(
                    instruction,
                    f"ADD {source} fetches a git repository {problem}; use "
                    "`#<40-hex commit id>` (or --checksum=<commit id>)",
                    line=line,
                )
            elif _URL.match(url) and not _CHECKSUM.fullmatch(checksum):
                yield violation(
                    instruction,
                    f"ADD {source} downloads without verification; add "
                    "--checksum=sha256:<64 hex> of the expected file",
                    line=line,
                )


def _is_git(url: str) -> bool:
    """BuildKit's test: a git transport, or an http(s) URL whose path ends in ``.git``."""
    lowered = url.lower()
    path = lowered.partition("#")[0].rstrip("/")
    return lowered.startswith(_GIT_TRANSPORT) or (bool(_URL.match(url)) and path.endswith(".git"))


def _sources(instruction: Instruction) -> list[str]:
    """Every argument but the destination (``ADD src... dest`` or the JSON form)."""
    if instruction.json_form:
        import json

        words = [str(w) for w in json.loads(instruction.value)]
    else:
        words = instruction.value.split()
    return [w for w in words[:-1] if not w.startswith("<<")]


RULE = Rule(
    code="RB220",
    name="add-url-unverified",
    severity=Severity.ERROR,
    summary="ADD of a URL without --checksum, or of git without a commit id",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
