"""RB201 from-not-pinned: a ``FROM`` image is not pinned by digest.

## What it does

Checks that every image a stage starts from is pinned by an ``@sha256:<64 hex>`` digest,
after expanding ``$ARG``s with the ``--build-arg`` values given to ``reprobuild lint``,
then the ``ARG`` defaults. ``FROM scratch`` and ``FROM <earlier stage>`` (aliases are
case-insensitive) are not images and are exempt. A ``FROM`` whose ``$ARG`` cannot be
resolved is RB202's business, not this rule's.

## Why is this bad?

A tag is a movable pointer: ``python:3.11-slim`` names a different image after every
Debian security update, and a registry (or whoever controls it) can point it anywhere.
Two builds of the same Dockerfile then start from different bytes, and nothing records
which. A digest names exactly one image manifest, forever.

## Example

```dockerfile
FROM python:3.11-slim
```

## Fix

Run `reprobuild pin` (or `reprobuild lint --fix`), which resolves each tag to its
current digest and writes it next to the tag, keeping the tag as documentation:

```dockerfile
FROM python:3.11-slim@sha256:5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9
```

When the image comes from an `ARG`, pin the default (`ARG BASE=python:3.11-slim@sha256:…`)
or pass a digest-pinned `--build-arg`.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.dockerfile.images import has_sha256_digest, image_uses, is_scratch, violation
from reprobuild.lint.rule import FixAvailability, Rule, Severity, Target, Violation


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for use in image_uses(dockerfile, ctx.build_args):
        if use.kind != "FROM" or use.resolved is None or use.stage_reference:
            continue
        if is_scratch(use.resolved) or has_sha256_digest(use.resolved):
            continue
        shown = use.resolved
        if use.resolved != use.written:
            shown += f" (from {use.written})"
        yield violation(
            use.instruction,
            f"FROM {shown} is not pinned by digest: the tag can move to another image; "
            "pin it as image:tag@sha256:<digest>",
            line=use.line,
        )


RULE = Rule(
    code="RB201",
    name="from-not-pinned",
    severity=Severity.ERROR,
    summary="FROM image not pinned by @sha256 digest",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
    fix=FixAvailability.SOMETIMES,
    fix_title="run `reprobuild pin` (or `reprobuild lint --fix`)",
)
