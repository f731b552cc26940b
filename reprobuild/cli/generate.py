"""``reprobuild generate``: the Dockerfile (and hashed requirements file) from the lock."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprobuild.cli.options import ConfigOption, cli_errors

if TYPE_CHECKING:
    from reprobuild.config import ProjectConfig
    from reprobuild.generate.pins import PinnedImage, Resolver

__all__ = ["generate"]


@cli_errors
def generate(
    path: Annotated[Path, typer.Argument(help="The project directory.")] = Path(),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Dockerfile to write (default: [tool.reprobuild] "
                     "dockerfile, or Dockerfile in the project)."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 when the committed files differ "
                     "from what the lock, config and pins produce now."),
    ] = False,
    update: Annotated[
        bool, typer.Option("--update", help="Re-resolve base image tags and move the pins.")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never contact a registry; missing pins are errors.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Generate a hash-verified, digest-pinned Dockerfile from the project's lockfile."""
    import difflib

    from reprobuild.config import load_config
    from reprobuild.errors import UsageError
    from reprobuild.fsutil import atomic_write_text
    from reprobuild.generate.config import image_config_from
    from reprobuild.generate.generator import REQUIREMENTS_PATH
    from reprobuild.generate.generator import generate as render
    from reprobuild.generate.pins import PinFile
    from reprobuild.lockfiles import read_lock

    if check and update:
        raise UsageError("--check and --update cannot be combined")
    project = load_config(config, start=path.resolve())
    settings = image_config_from(project)
    root = settings.root
    lock = read_lock(settings.lockfile)
    pins = PinFile.load(root / settings.pins_file)
    resolver = None if (offline or check) else _registry_resolver(project)
    files = render(settings, lock, pins, resolver=resolver, update=update)
    for warning in files.warnings:  # RB109 for allow-sdist packages, under --check too
        print(f"warning: {warning}", file=sys.stderr)

    dockerfile_path = output or (root / settings.dockerfile)
    outputs = {dockerfile_path: files.dockerfile, root / REQUIREMENTS_PATH: files.requirements}
    outputs.update((root / relative, text) for relative, text in files.extra)
    if check:
        drift = False
        for target, wanted in outputs.items():
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != wanted:
                drift = True
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(keepends=True),
                        wanted.splitlines(keepends=True),
                        fromfile=f"{target} (committed)",
                        tofile=f"{target} (generated)",
                    )
                )
        if drift:
            print("reprobuild: generated files are stale; run `reprobuild generate`",
                  file=sys.stderr)
            raise typer.Exit(1)
        print(f"{dockerfile_path}: up to date")
        return
    for target, text in outputs.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
    if pins.changed:
        pins.save()
    print(f"wrote {dockerfile_path} ({files.packages} packages, base {files.base.pinned})")
    if files.base.cuda is not None:
        print(
            f"CUDA {files.base.cuda.cuda}: hosts need NVIDIA driver >= "
            f"{files.base.cuda.min_driver}"
        )
        for warning in files.base.cuda.warnings:
            print(f"warning: {warning}", file=sys.stderr)


def _registry_resolver(project: ProjectConfig) -> Resolver:
    """Resolve a tag through the registry client (mirrors from the config honoured);
    the pin keeps the canonical name, and per-platform children for multi-arch indexes."""

    def resolve(reference: str) -> PinnedImage:
        from reprobuild.generate.pins import PinnedImage
        from reprobuild.registry.client import RegistryClient
        from reprobuild.registry.reference import parse_reference

        with RegistryClient.from_project(project) as client:
            resolved = client.resolve(parse_reference(reference), platforms=True)
        platforms = tuple(
            sorted(
                (f"{c.platform.os}/{c.platform.architecture}", c.digest)
                for c in resolved.children
                if c.platform is not None
            )
        )
        return PinnedImage(digest=resolved.digest, platforms=platforms)

    return resolve
