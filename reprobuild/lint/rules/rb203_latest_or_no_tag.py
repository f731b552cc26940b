"""RB203 latest-or-no-tag: a ``FROM`` image has no tag, or the tag ``latest``.

## What it does

Flags ``FROM`` images written without a tag (``FROM ubuntu``) or with ``:latest``, even
when they are pinned by digest. ``scratch`` and earlier stages are exempt; ``$ARG``s are
expanded first (build args, then ``ARG`` defaults).

## Why is this bad?

Without a digest, ``latest`` (which is what no tag means) changes whenever the
publisher pushes, including across major versions. With a digest the build is
reproducible, but the reader can no longer tell *which* version is pinned or what
``reprobuild pin`` should move to when the pin is refreshed: ``reprobuild pin`` keeps
whatever tag is there, so a version tag is what documents the intent.

## Example

```dockerfile
FROM ubuntu
FROM node:latest@sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b
```

## Fix

Name the version you mean, then pin it:

```dockerfile
FROM ubuntu:24.04@sha256:…
FROM node:22.9.0-bookworm-slim@sha256:…
```
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.dockerfile.images import image_uses, is_scratch, tag_of, violation
from reprobuild.lint.rule import Rule, Severity, Target, Violation


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for use in image_uses(dockerfile, ctx.build_args):
        if use.kind != "FROM" or use.resolved is None or use.stage_reference:
            continue
        if is_scratch(use.resolved):
            continue
        tag = tag_of(use.resolved)
        if tag is None:
            problem = "has no tag (it means `latest`)"
        elif tag == "latest":
            problem = "uses the tag `latest`"
        else:
            continue
        yield violation(
            use.instruction,
            f"FROM {use.resolved} {problem}: name the version you mean "
            "(image:<version>@sha256:<digest>)",
            line=use.line,
        )


RULE = Rule(
    code="RB203",
    name="latest-or-no-tag",
    severity=Severity.WARNING,
    summary="FROM image with no tag or `latest` (even when digest-pinned)",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
