"""RB202 from-unresolvable: a ``FROM`` image depends on an ``ARG`` nobody gives a value.

## What it does

Flags ``FROM`` lines whose image contains an ``$ARG`` (or ``${ARG}``) that has no
default in an ``ARG`` before the first ``FROM`` and no ``--build-arg`` given to
``reprobuild lint``. ``${ARG:-default}`` resolves to its default and is fine.

## Why is this bad?

The image is then decided by whoever runs the build, so the Dockerfile alone does not
say what it builds on; no tool (``reprobuild pin``, RB201, a reviewer) can check it is
pinned. A build that forgets the ``--build-arg`` fails or, with ``${ARG}`` inside a
longer name, silently pulls something else.

## Example

```dockerfile
ARG PYTHON_TAG
FROM python:${PYTHON_TAG}
```

## Fix

Give the ``ARG`` a default, pinned by digest, and override it when needed:

```dockerfile
ARG PYTHON_IMAGE=python:3.11-slim@sha256:…
FROM ${PYTHON_IMAGE}
```

Or lint with the values the build uses: ``reprobuild lint --build-arg PYTHON_TAG=3.11``.
"""

from __future__ import annotations

from collections.abc import Iterator

from reprobuild.dockerfile import Dockerfile, DockerfileContext
from reprobuild.dockerfile.images import image_uses, unresolved_variables, violation
from reprobuild.lint.rule import Rule, Severity, Target, Violation


def check(dockerfile: Dockerfile, ctx: DockerfileContext) -> Iterator[Violation]:
    for use in image_uses(dockerfile, ctx.build_args):
        if use.kind != "FROM" or use.resolved is not None:
            continue
        names = unresolved_variables(dockerfile, use.written, ctx.build_args)
        missing = ", ".join(names) if names else "a variable"
        hint = names[0] if names else "NAME"
        yield violation(
            use.instruction,
            f"FROM {use.written} cannot be resolved statically: {missing} has no default "
            f"before the first FROM; add `ARG {hint}=<image>@sha256:…` or lint with "
            f"--build-arg {hint}=…",
            line=use.line,
        )


RULE = Rule(
    code="RB202",
    name="from-unresolvable",
    severity=Severity.ERROR,
    summary="FROM image uses an ARG with no default and no --build-arg",
    target=Target.DOCKERFILE,
    check=check,
    doc=__doc__ or "",
)
