"""``reprobuild run`` / ``reprobuild rerun``: a command in the recorded image, pinned by
digest, tied to commit, data and seed in a run record (see reprobuild.runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reprobuild.cli.options import cli_errors

if TYPE_CHECKING:
    from reprobuild.runs.lineage import LineageTarget

__all__ = ["rerun", "run"]

LineageFile = Annotated[
    Path | None,
    typer.Option("--openlineage-file", help="Append OpenLineage events (JSON lines) here.",
                 dir_okay=False),
]
LineageUrl = Annotated[
    str | None,
    typer.Option("--openlineage-url", envvar="REPROBUILD_OPENLINEAGE_URL",
                 help="POST OpenLineage events here (Marquez: http://host:5000; a URL "
                 "without a path gets /api/v1/lineage)."),
]
LineageNamespace = Annotated[
    str, typer.Option("--openlineage-namespace", help="The OpenLineage job namespace.")
]
Project = Annotated[
    Path, typer.Option("--project", help="The project directory (mounted read-only at the "
                       "image's WORKDIR).", file_okay=False)
]


def _say(line: str) -> None:
    print(f"reprobuild: {line}", file=sys.stderr)


def _lineage(file: Path | None, url: str | None, namespace: str) -> LineageTarget | None:
    from reprobuild.runs.lineage import LineageTarget

    if file is None and url is None:
        return None
    return LineageTarget(namespace=namespace, file=file, url=url)


@cli_errors
def run(
    command: Annotated[list[str], typer.Argument(help="The command (after --).",
                                                 show_default=False)],
    record: Annotated[
        Path | None,
        typer.Option("--record", help="The `reprobuild image` record naming the image "
                     "(default: <project>/reprobuild-record.json).", dir_okay=False),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="An input file or directory (repeatable): mounted "
                     "read-only, content-hashed, its DVC/Delta version recorded."),
    ] = None,
    output: Annotated[
        list[Path] | None,
        typer.Option("--output", "-o", help="An output directory (repeatable): must be "
                     "absent or empty; mounted writable; hashed after the run."),
    ] = None,
    params: Annotated[
        list[Path] | None,
        typer.Option("--params", help="A config/params file (repeatable), hashed into the "
                     "record's config_sha256.", dir_okay=False),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Sets PYTHONHASHSEED and REPROBUILD_SEED (default: a "
                     "random seed, recorded).", min=0, max=2**32 - 1),
    ] = None,
    network: Annotated[
        str, typer.Option("--network", help="The container's network (default: none).")
    ] = "none",
    job: Annotated[
        str | None, typer.Option("--job", help="Job name (default: <project>.<outputs>).")
    ] = None,
    run_record: Annotated[
        Path | None,
        typer.Option("--run-record", help="Where to write the run record (default: "
                     "<project>/.reprobuild/runs/<run id>.json).", dir_okay=False),
    ] = None,
    project: Project = Path(),
    openlineage_file: LineageFile = None,
    openlineage_url: LineageUrl = None,
    openlineage_namespace: LineageNamespace = "reprobuild",
) -> None:
    """Run CMD in the recorded image (by digest, network none, data read-only) and write
    a run record. Exit: the command's exit code; 2 when it could not be run."""
    from reprobuild.runs.execute import RunRequest, execute

    root = project.resolve()
    done = execute(
        RunRequest(
            project=root,
            build_record=record or root / "reprobuild-record.json",
            command=tuple(command),
            data=tuple(data or ()),
            outputs=tuple(output or ()),
            params=tuple(params or ()),
            seed=seed,
            network=network,
            job=job,
            run_record=run_record,
            lineage=_lineage(openlineage_file, openlineage_url, openlineage_namespace),
        ),
        _say,
    )
    raise typer.Exit(done.exit_code)


@cli_errors
def rerun(
    run_record: Annotated[Path, typer.Argument(help="A run record written by `reprobuild "
                                               "run`.", dir_okay=False)],
    into: Annotated[
        Path | None,
        typer.Option("--into", help="Where the rerun's outputs and run record go (default: "
                     "<project>/.reprobuild/reruns/<recorded run id>).", file_okay=False),
    ] = None,
    project: Project = Path(),
    openlineage_file: LineageFile = None,
    openlineage_url: LineageUrl = None,
    openlineage_namespace: LineageNamespace = "reprobuild",
) -> None:
    """Rerun a recorded run: refuse (exit 2, naming each difference) unless the commit,
    data and params are the recorded ones; pull the image by digest; run the command
    again into a fresh directory; compare the outputs' hashes.
    Exit 0 same outputs, 1 different outputs or exit code, 2 could not rerun."""
    import shutil

    from reprobuild.errors import UsageError
    from reprobuild.runs.execute import execute, rerun_request
    from reprobuild.runs.record import load_run_record

    recorded = load_run_record(run_record)
    root = project.resolve()
    target = (into or root / ".reprobuild" / "reruns" / recorded.run_id).resolve()
    if into is None and target.exists():
        shutil.rmtree(target)  # ours: a previous rerun of the same record
    elif target.exists() and any(target.iterdir()):
        raise UsageError(f"--into {into}: not empty; give a new or empty directory")
    request = rerun_request(recorded, root, target / "outputs", target / "run.json",
                            _lineage(openlineage_file, openlineage_url, openlineage_namespace))
    again = execute(request, _say)
    before = {o.path: o.sha256 for o in recorded.outputs}
    after = {o.path: o.sha256 for o in again.outputs}
    same = again.exit_code == recorded.exit_code
    if not same:
        print(f"exit code: recorded {recorded.exit_code}, now {again.exit_code}")
    for path in sorted(before):
        match = before[path] == after.get(path)
        same = same and match
        print(f"{'same' if match else 'DIFFERENT'} {path}: recorded {before[path]}, "
              f"now {after.get(path)}")
    print(f"outputs {'reproduced' if same else 'differ'}; rerun record {target / 'run.json'}")
    raise typer.Exit(0 if same else 1)
