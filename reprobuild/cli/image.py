"""``reprobuild image``: build the project's image on the Docker engine, optionally push
it, and write the build record (identity = image ID + pushed manifest digest)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprobuild.cli.options import ConfigOption, FormatOption, cli_errors, parse_key_values

if TYPE_CHECKING:
    from reprobuild.config import ProjectConfig
    from reprobuild.engine import Engine
    from reprobuild.image.pipeline import BuildOutcome
    from reprobuild.image.record import BuildRecord, GitInfo, PushRecord

__all__ = ["image"]


@cli_errors
def image(
    path: Annotated[Path, typer.Argument(help="The project directory.")] = Path(),
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Build this Dockerfile instead of generating one "
                     "from the lock.", dir_okay=False),
    ] = None,
    push: Annotated[
        str | None,
        typer.Option("--push", metavar="REF", help="Tag the image as REF (repo[:tag]), push "
                     "it, and verify the registry serves the pushed digest."),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", metavar="NAME[:TAG]", help="Local tag (repeatable)."),
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="Where to write the record "
                     "(default: <project>/reprobuild-record.json)."),
    ] = None,
    digest_file: Annotated[
        Path | None,
        typer.Option("--digest-file", help="Write the identity digest (the manifest digest "
                     "when pushed, else the image ID) to this file."),
    ] = None,
    build_arg: Annotated[
        list[str] | None,
        typer.Option("--build-arg", metavar="KEY=VALUE", help="Build argument (repeatable)."),
    ] = None,
    source_date_epoch: Annotated[
        int | None,
        typer.Option("--source-date-epoch", help="Timestamp for everything the build stamps "
                     "(default: $SOURCE_DATE_EPOCH, else the commit time of HEAD, else 0).",
                     min=0),
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option("--base-image", metavar="REF@DIGEST", envvar="REPROBUILD_BASE_IMAGE",
                     help="Override [tool.reprobuild] base-image (e.g. a mirror's copy)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not reuse cached steps.")
    ] = False,
    network: Annotated[
        str, typer.Option("--network", help="Network of RUN steps (default: none).")
    ] = "none",
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Wheel download cache directory.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No build progress.")] = False,
    output_format: FormatOption = "text",
    config: ConfigOption = None,
) -> None:
    """Build the image (generate -> lint -> fetch -> deterministic context -> build with no
    network -> normalize), tag and push it, and write the build record."""
    from reprobuild.config import load_config
    from reprobuild.engine import connect
    from reprobuild.errors import UsageError
    from reprobuild.image.pipeline import build_from_inputs
    from reprobuild.image.record import git_info, write_record

    fmt = output_format.lower()
    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {output_format!r}")
    push_ref = _push_reference(push) if push else None
    root = path.resolve()
    if not root.is_dir():
        raise UsageError(f"{path}: not a directory")
    project = load_config(config, start=root)
    git = git_info(root)
    epoch = _source_date_epoch(source_date_epoch, root)
    args = parse_key_values(build_arg, "--build-arg")
    if file is None:
        args = {**_provenance_args(git), **args}
    progress = _Progress(quiet)

    engine = connect()
    with engine:
        info = engine.info()
        progress(f"engine {info.version} (API {info.api_version}, {info.storage_driver}) at "
                 f"{info.host}")
        try:
            outcome = build_from_inputs(
                root, config=project, dockerfile=file, build_args=args,
                source_date_epoch=epoch, nocache=no_cache, engine=engine, progress=progress,
                base_image=base_image, cache_dir=cache_dir, network_mode=network,
            )
        finally:
            progress.close()
        for name in tags or []:
            repo, tag = _split_tag(name)
            engine.tag(outcome.image_id, repo, tag)
        pushed = None
        if push_ref is not None:
            pushed = _push(engine, project, push_ref, outcome.image_id, progress)
        size = int(engine.inspect(outcome.image_id).get("Size") or 0)
        result = _record(outcome, project, root, git, info, pushed, tuple(tags or ()))

    record_path = record or root / "reprobuild-record.json"
    write_record(record_path, result)
    identity = pushed.digest if pushed else outcome.image_id
    if digest_file is not None:
        from reprobuild.fsutil import atomic_write_text

        atomic_write_text(digest_file, identity + "\n")
    _github_output(identity, pushed.reference if pushed else None)
    if fmt == "json":
        sys.stdout.write(result.to_json())
        return
    print(f"image {outcome.image_id} ({len(outcome.diff_ids)} layers, {size / 1e6:.1f} MB, "
          f"{outcome.builder} builder, {outcome.seconds:.1f} s"
          f"{', normalized' if outcome.normalized else ''})")
    if pushed:
        print(f"pushed {pushed.reference}@{pushed.digest}")
    print(f"record {record_path}")


def _push_reference(text: str) -> str:
    from reprobuild.errors import UsageError
    from reprobuild.registry.reference import parse_reference

    ref = parse_reference(text)
    if ref.digest:
        raise UsageError(f"--push {text}: push to a tag, not a digest")
    return str(ref.with_tag(ref.tag or "latest").familiar)


def _split_tag(name: str) -> tuple[str, str]:
    from reprobuild.registry.reference import parse_reference

    ref = parse_reference(name)
    return ref.familiar_name, ref.tag or "latest"


def _source_date_epoch(option: int | None, root: Path) -> int:
    from reprobuild.errors import UsageError
    from reprobuild.image.record import git_commit_time

    if option is not None:
        return option
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        if not env.isdigit():
            raise UsageError(f"SOURCE_DATE_EPOCH={env!r} is not a number of seconds")
        return int(env)
    committed = git_commit_time(root)
    if committed is not None:
        return committed
    print("reprobuild: warning: not a git checkout; SOURCE_DATE_EPOCH defaults to 0 "
          "(pass --source-date-epoch)", file=sys.stderr)
    return 0


def _provenance_args(git: GitInfo | None) -> dict[str, str]:
    """The generated Dockerfile's OCI source/revision labels come from these build args."""
    if git is None:
        return {}
    args = {"REPROBUILD_REVISION": git.commit}
    if git.remote:
        args["REPROBUILD_SOURCE"] = git.remote
    return args


_HEADERS = ("Step ", "building ", "engine ", "built ", "normalized ", "The push refers")
_BUILDKIT_STEP = re.compile(r"^#\d+ \[")


class _Progress:
    """Build output for humans. On a terminal (and not in CI): step headers stay, the
    step's own output scrolls by on one status line. Elsewhere: every line, plainly."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not os.environ.get("CI")
        self.width = shutil.get_terminal_size().columns
        self.status = False

    def __call__(self, line: str) -> None:
        if self.quiet or not line.strip():
            return
        if not self.live:
            sys.stderr.write(line + "\n")
        elif line.startswith(_HEADERS) or _BUILDKIT_STEP.match(line):
            self._clear()
            sys.stderr.write(f"\x1b[1m{line}\x1b[0m\n")
        else:
            text = " ".join(line.split())[: max(self.width - 4, 10)]
            sys.stderr.write(f"\r\x1b[K  {text}")
            self.status = True
        sys.stderr.flush()

    def _clear(self) -> None:
        if self.status:
            sys.stderr.write("\r\x1b[K")
            self.status = False

    def close(self) -> None:
        if self.live and not self.quiet:
            self._clear()
            sys.stderr.flush()


def _push(
    engine: Engine, project: ProjectConfig, reference: str, image_id: str, progress: _Progress
) -> PushRecord:
    from reprobuild.engine import PushError
    from reprobuild.image.record import PushRecord
    from reprobuild.registry.client import RegistryClient
    from reprobuild.registry.reference import parse_reference

    repo, tag = reference.rsplit(":", 1)
    engine.tag(image_id, repo, tag)
    digest = engine.push(repo, tag, progress=progress)
    progress.close()
    with RegistryClient.from_project(project) as client:
        served = client.resolve(parse_reference(reference)).digest
    if served != digest:
        raise PushError(
            f"the registry serves {served} for {reference} but the engine pushed {digest}; "
            "another push may have raced this one"
        )
    return PushRecord(reference=reference, digest=digest)


def _record(
    outcome: BuildOutcome,
    project: ProjectConfig,
    root: Path,
    git: GitInfo | None,
    info: object,
    pushed: PushRecord | None,
    tags: tuple[str, ...],
) -> BuildRecord:
    from reprobuild import __version__
    from reprobuild.engine import EngineInfo
    from reprobuild.image.record import BuildRecord, EngineRecord, public_build_args

    assert isinstance(info, EngineInfo)
    return BuildRecord(
        tool_version=__version__,
        project=_display(root),
        git=git,
        lint=outcome.lint,
        dockerfile=outcome.dockerfile,
        dockerfile_sha256=outcome.dockerfile_sha256,
        dockerfile_generated=outcome.dockerfile_generated,
        config=outcome.config,
        config_sha256=outcome.config_sha256,
        locks=outcome.locks,
        base_images=outcome.base_images,
        build_args=public_build_args(outcome.build_args),
        source_date_epoch=outcome.source_date_epoch,
        engine=EngineRecord(
            version=info.version, api_version=info.api_version,
            storage_driver=info.storage_driver, platform=info.platform,
            containerd_store=info.containerd_store, builder=outcome.builder,
        ),
        context_sha256=outcome.context_sha256,
        image_id=outcome.image_id,
        diff_ids=outcome.diff_ids,
        normalized=outcome.normalized,
        tags=tags,
        push=pushed,
    )


def _display(root: Path) -> str:
    try:
        return root.relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(root)


def _github_output(digest: str, reference: str | None) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as handle:
        handle.write(f"digest={digest}\n")
        if reference:
            handle.write(f"reference={reference}\n")
