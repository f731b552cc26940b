"""Image references as Dockerfile rules see them: pinned by digest? which tag?

Rules RB201-RB204 share these so "pinned" means the same thing everywhere: an
``@sha256:<64 hex>`` digest, the form ``reprobuild pin`` writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from reprobuild.dockerfile import Dockerfile, Instruction
from reprobuild.dockerfile.findings import violation
from reprobuild.errors import ReprobuildError
from reprobuild.registry.reference import parse_reference

__all__ = [
    "ImageUse",
    "has_sha256_digest",
    "image_uses",
    "is_scratch",
    "tag_of",
    "unresolved_variables",
    "violation",  # re-exported for the image rules
]

_SHA256_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_VARIABLE_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class ImageUse:
    """An image named by ``FROM`` (``kind="FROM"``), ``COPY --from`` or ``RUN --mount=from``."""

    kind: str
    written: str
    resolved: str | None
    """After ARG/build-arg expansion; ``None`` when that needs a value nobody gave."""
    instruction: Instruction
    stage_reference: bool
    """Names an earlier stage (alias or index) rather than an image."""

    @property
    def line(self) -> int:
        return self.instruction.line_of(self.written)


def image_uses(dockerfile: Dockerfile, build_args: dict[str, str]) -> tuple[ImageUse, ...]:
    """Every image a build pulls, in file order (computed once per file and build args)."""
    key = ("image_uses", *sorted(build_args.items()))
    cached = dockerfile.memo.get(key)
    if not isinstance(cached, tuple):
        cached = dockerfile.memo[key] = tuple(_image_uses(dockerfile, build_args))
    return cached


def _image_uses(dockerfile: Dockerfile, build_args: dict[str, str]) -> Iterator[ImageUse]:
    by_line = {i.start_line: i for i in dockerfile.instructions if i.keyword == "FROM"}
    for stage in dockerfile.stages:
        instruction = by_line[stage.line]
        resolved = dockerfile.resolve(stage.base, build_args)
        earlier = {s.name for s in dockerfile.stages[: stage.index] if s.name}
        is_stage = resolved is not None and resolved.lower() in earlier
        yield ImageUse("FROM", stage.base, resolved, instruction, is_stage)
    for instruction in dockerfile.instructions:
        sources: list[tuple[str, str]] = []
        if instruction.keyword in ("COPY", "ADD"):
            sources += [("COPY --from", v) for v in instruction.flag_values("from")]
        elif instruction.keyword == "RUN":
            for mount in instruction.flag_values("mount"):
                options = dict(_mount_options(mount))
                if options.get("from"):
                    sources.append(("RUN --mount from", options["from"]))
        for kind, written in sources:
            resolved = dockerfile.resolve(written, build_args, stage=instruction.stage)
            target = resolved if resolved is not None else written
            is_stage = dockerfile.is_stage_reference(target)
            yield ImageUse(kind, written, resolved, instruction, is_stage)


def _mount_options(mount: str) -> Iterator[tuple[str, str]]:
    for item in mount.split(","):
        key, _, value = item.strip().strip("\"'").partition("=")
        yield key.strip().lower(), value.strip()


def has_sha256_digest(reference: str) -> bool:
    return bool(_SHA256_DIGEST.search(reference))


def is_scratch(reference: str) -> bool:
    return reference.strip().lower() == "scratch"


def tag_of(reference: str) -> str | None:
    """The tag (``3.11-slim``), ``None`` when there is none; raises on invalid references."""
    try:
        return parse_reference(reference).tag
    except ReprobuildError:
        name = reference.split("@", 1)[0]
        colon = name.rfind(":")
        return name[colon + 1 :] if colon > name.rfind("/") else None


def unresolved_variables(
    dockerfile: Dockerfile, text: str, build_args: dict[str, str]
) -> list[str]:
    """The ``$NAME``s in ``text`` that have no value from build args or ARG defaults."""
    names = dict.fromkeys(_VARIABLE_NAME.findall(text))
    return [n for n in names if dockerfile.resolve(f"${{{n}}}", build_args) is None]
