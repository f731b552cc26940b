"""``reprobuild run`` and ``rerun``: resolve the recorded image by digest, hash the
inputs, run the command in a container, hash the outputs, write the run record, emit
lineage.

Container layout: the project directory is mounted read-only at the image's WORKDIR
(``/work`` when it has none), so the command sees the same relative paths as on the
host; each ``--data`` path is mounted read-only at its place and each ``--output``
directory read-write at its place. Ownership: the command runs as the image's USER.
When reprobuild runs as root it chowns each output directory to that user before the
run and back to the directory's parent owner afterwards; when it does not, and the
image's user is another uid, it runs the container as the invoking uid:gid instead
(``user_mapping: host`` in the record), since it cannot chown.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from reprobuild import __version__
from reprobuild.errors import ReprobuildError, UsageError
from reprobuild.image.record import GitInfo, git_info, load_record
from reprobuild.runs.datahash import data_version, tree_hash
from reprobuild.runs.lineage import LineageError, LineageTarget, emit, run_event
from reprobuild.runs.record import (
    FileHash,
    ImageUsed,
    InputRecord,
    OutputRecord,
    RunRecord,
    write_run_record,
)

__all__ = ["RerunRefusedError", "RunRequest", "execute", "rerun_request", "tuple_differences"]

Say = Callable[[str], None]
DEFAULT_WORKDIR = "/work"
MAX_SEED = 2**32 - 1  # PYTHONHASHSEED's range


class RerunRefusedError(ReprobuildError):
    """The recorded tuple (commit, data, params) is not what the work tree has now."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    project: Path
    build_record: Path
    command: tuple[str, ...]
    data: tuple[Path, ...]
    outputs: tuple[Path, ...]
    params: tuple[Path, ...]
    seed: int | None
    network: str
    job: str | None
    run_record: Path | None
    lineage: LineageTarget | None
    output_root: Path | None = None  # rerun: outputs go under here, not in the project
    rerun_of: str | None = None
    image: ImageUsed | None = None  # rerun: the recorded image instead of the build record


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _inside(path: Path, root: Path, option: str) -> str:
    try:
        relative = path.resolve().relative_to(root)
    except ValueError:
        raise UsageError(f"{option} {path}: must be inside the project {root}") from None
    if not relative.parts:
        raise UsageError(f"{option} {path}: must be below the project directory, not it")
    return relative.as_posix()


def _sha256_file(path: Path) -> str:
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise UsageError(f"--params {path}: cannot read: {exc.strerror}") from None


def config_hash(params: Sequence[FileHash]) -> str:
    text = "".join(f"{p.sha256} {p.path}\n" for p in sorted(params, key=lambda p: p.path))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def image_from_build_record(path: Path, root: Path) -> ImageUsed:
    record = load_record(path)
    data = path.read_bytes()
    if record.push is not None:
        repository = record.push.reference.rsplit(":", 1)[0]  # `image --push` always tags
        reference, pinned_by = f"{repository}@{record.push.digest}", "manifest-digest"
    else:
        reference, pinned_by = record.image_id, "image-id"
    try:
        shown = path.resolve().relative_to(root).as_posix()
    except ValueError:
        shown = str(path)
    return ImageUsed(
        reference=reference,
        pinned_by=pinned_by,
        digest=record.push.digest if record.push else None,
        image_id=record.image_id,
        build_record=shown,
        build_record_sha256="sha256:" + hashlib.sha256(data).hexdigest(),
        locks=record.locks,
    )


def hash_inputs(root: Path, data: Sequence[Path]) -> tuple[InputRecord, ...]:
    records = []
    for path in data:
        relative = _inside(path, root, "--data")
        tree = tree_hash(root / relative)
        records.append(InputRecord(path=relative, sha256=tree.sha256, files=tree.files,
                                   bytes=tree.bytes, version=data_version(root / relative, root)))
    return tuple(records)


def hash_params(root: Path, params: Sequence[Path]) -> tuple[FileHash, ...]:
    return tuple(
        FileHash(path=_inside(p, root, "--params"), sha256=_sha256_file(p)) for p in params
    )


def _ensure_image(image: ImageUsed, say: Say) -> tuple[str, str, str]:
    """(reference to run, USER, WORKDIR), pulling by digest when the engine lacks it and
    checking that what the engine has under that digest is the recorded image."""
    from reprobuild.engine import EngineError, connect
    from reprobuild.engine.run import image_facts, pull_by_digest

    with connect() as engine:
        facts = image_facts(engine, image.reference)
        if facts is None:
            if image.pinned_by != "manifest-digest" or image.digest is None:
                raise EngineError(
                    f"image {image.image_id} is not in the engine and was never pushed; "
                    "rebuild it with `reprobuild image` (or push it with --push)"
                )
            repository = image.reference.split("@", 1)[0]
            say(f"pulling {image.reference}")
            pull_by_digest(engine, repository, image.digest, say)
            facts = image_facts(engine, image.reference)
        if facts is None or facts.image_id != image.image_id:
            found = facts.image_id if facts else "nothing"
            raise EngineError(
                f"{image.reference} is {found} in the engine, not the recorded image "
                f"{image.image_id}"
            )
    return image.reference, facts.user, facts.workdir


def _numeric_user(user: str) -> tuple[int, int] | None:
    name, _, group = user.partition(":")
    if name.isdigit() and (not group or group.isdigit()):
        uid = int(name)
        return uid, int(group) if group else uid
    return None


def _plan_user(image_user: str) -> tuple[str, str]:
    """(container user, mapping). See the module docstring."""
    if os.geteuid() == 0:
        return image_user, "image"
    ids = _numeric_user(image_user)
    if ids is not None and ids[0] == os.geteuid():
        return image_user, "image"
    return f"{os.geteuid()}:{os.getegid()}", "host"


def _prepare_outputs(directories: Sequence[Path], user: str) -> None:
    for directory in directories:
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise UsageError(
                f"--output {directory}: exists and is not an empty directory; remove it first "
                "(DVC removes a stage's outputs before it runs the stage)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            ids = _numeric_user(user or "0")
            if ids is not None:
                os.chown(directory, *ids)
            else:  # a user name only the image knows: let it write anyway
                directory.chmod(0o777)


def _restore_owner(directories: Sequence[Path]) -> None:
    if os.geteuid() != 0:
        return
    for directory in directories:
        owner = directory.parent.stat()
        for dirpath, dirnames, filenames in os.walk(directory):
            base = Path(dirpath)
            for name in [base, *(base / n for n in dirnames + filenames)]:
                with contextlib.suppress(OSError):
                    os.chown(name, owner.st_uid, owner.st_gid, follow_symlinks=False)
        directory.chmod(0o755)


def _stream(fd: int) -> Callable[[bytes], None]:
    def write(chunk: bytes) -> None:
        os.write(fd, chunk)

    return write


def execute(request: RunRequest, say: Say) -> RunRecord:
    """Run the command; the written run record (exit_code = the command's)."""
    from reprobuild.engine import connect
    from reprobuild.engine.run import BindMount, ContainerSpec, run_container

    root = request.project.resolve()
    if not request.command:
        raise UsageError("no command given: reprobuild run [OPTIONS] -- CMD [ARGS]...")
    image = request.image or image_from_build_record(request.build_record, root)
    seed = request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1)
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed {seed}: must be between 0 and {MAX_SEED}")
    inputs = hash_inputs(root, request.data)
    params = hash_params(root, request.params)
    relative_outputs = [_inside(p, root, "--output") for p in request.outputs]
    host_outputs = [
        (request.output_root or root) / relative for relative in relative_outputs
    ]
    reference, image_user, image_workdir = _ensure_image(image, say)
    user, mapping = _plan_user(image_user)
    workdir = image_workdir if image_workdir not in ("", "/") else DEFAULT_WORKDIR
    _prepare_outputs(host_outputs, user)
    if request.output_root is not None:  # the mount point must exist in the read-only project
        for relative in relative_outputs:
            (root / relative).mkdir(parents=True, exist_ok=True)
    mounts = [BindMount(root, workdir, read_only=True)]
    mounts += [BindMount(root / i.path, f"{workdir}/{i.path}", read_only=True) for i in inputs]
    mounts += [
        BindMount(host.resolve(), f"{workdir}/{relative}", read_only=False)
        for host, relative in zip(host_outputs, relative_outputs, strict=True)
    ]
    run_id = str(uuid.uuid4())
    record = RunRecord(
        run_id=run_id,
        tool_version=__version__,
        job=request.job or _default_job(root, relative_outputs),
        git=git_info(root),
        image=image,
        inputs=inputs,
        params=params,
        config_sha256=config_hash(params),
        seed=seed,
        command=request.command,
        network=request.network,
        user=user,
        user_mapping=mapping,
        workdir=workdir,
        started=_now(),
        ended="",
        exit_code=-1,
        outputs=(),
        rerun_of=request.rerun_of,
    )
    _lineage(record, "START", request.lineage, root, say)
    spec = ContainerSpec(
        image=reference,
        command=request.command,
        mounts=tuple(mounts),
        environment={"PYTHONHASHSEED": str(seed), "REPROBUILD_SEED": str(seed),
                     "REPROBUILD_RUN_ID": run_id},
        network=request.network,
        user=user,
        workdir=workdir,
    )
    say(f"run {run_id}: {' '.join(request.command)} in {reference} "
        f"(seed {seed}, network {request.network})")
    try:
        with connect() as engine:
            exit_code = run_container(engine, spec, _stream(1), _stream(2))
    except ReprobuildError:
        _lineage(replace(record, ended=_now(), exit_code=2), "FAIL", request.lineage, root, say)
        raise
    finally:
        _restore_owner(host_outputs)
    outputs = []
    for host, relative in zip(host_outputs, relative_outputs, strict=True):
        tree = tree_hash(host)
        outputs.append(OutputRecord(path=relative, sha256=tree.sha256, files=tree.files,
                                    bytes=tree.bytes))
    record = replace(record, ended=_now(), exit_code=exit_code, outputs=tuple(outputs))
    path = request.run_record or root / ".reprobuild" / "runs" / f"{run_id}.json"
    write_run_record(path, record)
    _lineage(record, "COMPLETE" if exit_code == 0 else "FAIL", request.lineage, root, say)
    say(f"run record {path} (exit {exit_code})")
    return record


def _default_job(root: Path, outputs: Sequence[str]) -> str:
    names = [PurePosixPath(o).name for o in outputs]
    return f"{root.name}.{'+'.join(names) if names else 'run'}"


def _lineage(
    record: RunRecord, event_type: str, target: LineageTarget | None, root: Path, say: Say
) -> None:
    if target is None:
        return
    try:
        emit(run_event(record, event_type, target.namespace, root), target)
    except LineageError as exc:  # the run goes on: lineage is a report about it
        say(f"warning: OpenLineage {event_type} event not delivered: {exc}")


def tuple_differences(record: RunRecord, root: Path, git: GitInfo | None) -> list[str]:
    """What differs between the recorded (commit, data, params) and the work tree now."""
    found: list[str] = []
    recorded = record.git.commit if record.git else None
    current = git.commit if git else None
    if recorded != current:
        found.append(f"git commit: recorded {recorded or 'none'}, now {current or 'none'}")
    if git is not None and git.dirty and not (record.git and record.git.dirty):
        found.append("git work tree: recorded clean, now has uncommitted changes to tracked "
                     "files")
    for item in record.inputs:
        path = root / item.path
        if not path.exists():
            found.append(f"data {item.path}: recorded {item.sha256}, now missing")
            continue
        now = tree_hash(path).sha256
        if now != item.sha256:
            found.append(f"data {item.path}: recorded {item.sha256}, now {now}")
    for param in record.params:
        path = root / param.path
        now = _sha256_file(path) if path.is_file() else "missing"
        if now != param.sha256:
            found.append(f"params {param.path}: recorded {param.sha256}, now {now}")
    return found


def rerun_request(
    record: RunRecord, root: Path, output_root: Path, run_record: Path,
    lineage: LineageTarget | None,
) -> RunRequest:
    """The recorded run again, outputs under ``output_root`` (the originals stay)."""
    differences = tuple_differences(record, root, git_info(root))
    if differences:
        raise RerunRefusedError(
            "the work tree is not the recorded run's; nothing was checked out or run: "
            + "; ".join(differences)
        )
    return RunRequest(
        project=root,
        build_record=root / record.image.build_record,
        command=record.command,
        data=tuple(root / i.path for i in record.inputs),
        outputs=tuple(root / o.path for o in record.outputs),
        params=tuple(root / p.path for p in record.params),
        seed=record.seed,
        network=record.network,
        job=record.job,
        run_record=run_record,
        lineage=lineage,
        output_root=output_root,
        rerun_of=record.run_id,
        image=record.image,
    )
