"""RB204 external-image-not-pinned: ``COPY --from`` or ``RUN --mount=from=`` an unpinned image.

## What it does

Checks the images a build pulls besides ``FROM``: ``COPY --from=<image>`` and
``RUN --mount=type=bind|cache,from=<image>``. They must be pinned by an
``@sha256:<64 hex>`` digest. Stage names (case-insensitive) and stage indexes
(``--from=0``) are not images and are exempt. A reference that needs an ``$ARG`` without
value is flagged too: nobody can check what it pulls.

## Why is this bad?

These images are pulled just like base images, and what they contribute (a ``uv``
binary, CA certificates, a compiler toolchain) ends up in your image. Unpinned, the
same Dockerfile copies different bytes from one build to the next.

## Example

```dockerfile
COPY --from=ghcr.io/astral-sh/uv:0.4.20 /uv /bin/uv
RUN --mount=type=bind,from=busybox:1.36,source=/bin/busybox,target=/bb /bb true
```

## Fix

Pin the image by digest (``reprobuild pin`` does it for ``FROM``; for these, copy the
digest ``docker buildx imagetools inspect <image>`` prints):

```dockerfile
COPY --from=ghcr.io/astral-sh/uv:0.4.20@sha256:… /uv /bin/uv
```

Or add a named stage ``FROM <image>@sha256:… AS uv`` and ``COPY --from=uv``.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.dockerfile.images import has_sha256_digest, image_uses, violation
from reprobuild.lint.rule import Rule, Severity, Target, Violation


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for use in image_uses(dockerfile, ctx.build_args):
        if use.kind == "FROM" or use.stage_reference:
            continue
        if use.resolved is None:
            yield violation(
                use.instruction,
                f"{use.kind}={use.written} cannot be resolved statically; name a stage or "
                "an image pinned by @sha256 digest",
                line=use.line,
            )
        elif not has_sha256_digest(use.resolved):
            yield violation(
                use.instruction,
                f"{use.kind}={use.resolved} pulls an image that is not pinned by digest; "
                "pin it as image:tag@sha256:<digest>",
                line=use.line,
            )


RULE = Rule(
    code="RB204",
    name="external-image-not-pinned",
    severity=Severity.ERROR,
    summary="COPY --from / RUN --mount from= an image not pinned by digest",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
