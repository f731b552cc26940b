"""Policy, audit log, record reading and mirror naming: no registry needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from promote_helpers import record_file

from reprobuild.config import load_config
from reprobuild.errors import ConfigError, UsageError
from reprobuild.image.record import RecordError
from reprobuild.promote.audit import AuditEntry, append_entry, read_entries
from reprobuild.promote.mirror import MirrorTarget, find_pinned_images
from reprobuild.promote.plan import (
    BlobAction,
    BlobStep,
    DestinationPlan,
    Plan,
    SourceManifest,
    TagAction,
    TagStep,
    parse_destinations,
)
from reprobuild.promote.policy import load_policy
from reprobuild.promote.source import PromotionSource, load_record, resolve_source
from reprobuild.registry.reference import ImageRef, parse_reference

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


def project(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.reprobuild]\n" + body)
    return path


def record(tmp_path: Path, errors: int = 0, *, pushed: bool = True) -> Path:
    return record_file(
        tmp_path / "record.json",
        "registry.lan/staging/app:1",
        DIGEST,
        errors=errors,
        pushed=pushed,
    )


def test_no_policy_allows_everything_and_tags_are_immutable(tmp_path: Path) -> None:
    policy = load_policy(load_config(start=tmp_path))
    source = PromotionSource(parse_reference(f"registry.lan/a@{DIGEST}"))
    assert policy.check_request(source, parse_destinations(["other.lan/b:v1"])) == []
    assert policy.immutable_tags == ("*",)
    assert policy.audit_log == tmp_path / ".reprobuild" / "promotions.jsonl"


def test_policy_table_is_checked(tmp_path: Path) -> None:
    path = project(
        tmp_path,
        '[tool.reprobuild.promotion]\nsources = ["registry.lan/staging/*"]\n'
        'destinations = ["registry.lan/prod/*"]\ntag-patterns = ["v[0-9]*"]\n'
        'require-record = true\naudit-log = "audit.jsonl"\n',
    )
    policy = load_policy(load_config(path))
    assert policy.audit_log == tmp_path / "audit.jsonl"
    bare = PromotionSource(parse_reference(f"registry.lan/dev/app@{DIGEST}"))
    reasons = policy.check_request(bare, parse_destinations(["other.lan/prod/app:latest"]))
    assert len(reasons) == 4
    assert any("sources" in r for r in reasons) and any("destinations" in r for r in reasons)
    assert any("tag-patterns" in r for r in reasons) and any("record" in r for r in reasons)
    good = resolve_source(str(record(tmp_path)), None, resolve_tag=False)
    assert policy.check_request(good, parse_destinations(["registry.lan/prod/app:v1.2"])) == []


def test_required_record_must_have_passed_lint(tmp_path: Path) -> None:
    policy = load_policy(
        load_config(project(tmp_path, "[tool.reprobuild.promotion]\nrequire-record = true\n"))
    )
    dests = parse_destinations(["registry.lan/prod/app"])
    failed = resolve_source(str(record(tmp_path, errors=2)), None, resolve_tag=False)
    assert "lint did not pass (2 errors)" in policy.check_request(failed, dests)[0]
    with pytest.raises(ConfigError, match="reprobuild image --push"):
        resolve_source(str(record(tmp_path, pushed=False)), None, resolve_tag=False)


def test_unknown_policy_key_is_an_error(tmp_path: Path) -> None:
    path = project(tmp_path, '[tool.reprobuild.promotion]\nsource = ["x"]\n')
    with pytest.raises(ConfigError, match=r"tool\.reprobuild\.promotion\.source: unknown key"):
        load_policy(load_config(path))
    with pytest.raises(ConfigError, match="require-record must be true or false"):
        load_policy(
            load_config(project(tmp_path, '[tool.reprobuild.promotion]\nrequire-record = "yes"\n'))
        )


def test_promotion_toml_wins_alone_but_not_with_the_table(tmp_path: Path) -> None:
    (tmp_path / "promotion.toml").write_text('immutable-tags = ["v*"]\n')
    policy = load_policy(load_config(project(tmp_path, "lint = {}\n")))
    assert policy.immutable_tags == ("v*",)
    path = project(tmp_path, "[tool.reprobuild.promotion]\nrequire-record = false\n")
    with pytest.raises(ConfigError, match="both define the promotion policy"):
        load_policy(load_config(path))


def _plan(tags: tuple[TagStep, ...]) -> Plan:
    tree = SourceManifest(DIGEST, "application/vnd.oci.image.manifest.v1+json", b"{}", ())
    dest = DestinationPlan(
        ImageRef("registry.lan", "prod/app"),
        (BlobStep(OTHER, 10, BlobAction.SKIP),),
        (),
        tags,
    )
    return Plan(PromotionSource(parse_reference(f"registry.lan/a@{DIGEST}")), tree, (dest,))


def test_immutable_tags_refuse_a_retag_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "promotion.toml").write_text('immutable-tags = ["v*"]\n')
    policy = load_policy(load_config(start=tmp_path))
    retag_v1 = TagStep("v1", OTHER, TagAction.RETAG)
    retag_latest = TagStep("latest", OTHER, TagAction.RETAG)
    plan = _plan((retag_v1, retag_latest))
    reasons = policy.check_plan(plan, allow_retag=False)
    assert len(reasons) == 1 and "prod/app:v1" in reasons[0] and "--allow-retag" in reasons[0]
    assert policy.check_plan(plan, allow_retag=True) == []
    unchanged = _plan((TagStep("v1", DIGEST, TagAction.UNCHANGED),))
    assert not unchanged.has_work and "nothing to do" in unchanged.describe()[-1]
    assert "retag tag v1 (now sha256:bbb" in "\n".join(plan.describe())


def test_source_forms(tmp_path: Path) -> None:
    by_digest = resolve_source(f"registry.lan/a:1@{DIGEST}", None, resolve_tag=False)
    assert by_digest.ref == ImageRef("registry.lan", "a", digest=DIGEST)
    with pytest.raises(UsageError, match="--resolve-tag"):
        resolve_source("registry.lan/a:1", None, resolve_tag=False)
    loaded = load_record(record(tmp_path))
    assert loaded.reference.name == "registry.lan/staging/app" and loaded.lint_passed
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/else"}')
    with pytest.raises(RecordError, match=r"reprobuild\.record/1"):
        load_record(bad)
    with pytest.raises(UsageError, match="destination is registry/repo"):
        parse_destinations([f"registry.lan/a@{DIGEST}"])


def test_audit_log_lines_never_hold_credentials(tmp_path: Path) -> None:
    log = tmp_path / "sub" / "audit.jsonl"
    for result in ("promoted", "failed"):
        append_entry(
            log,
            AuditEntry(
                source=f"registry.lan/a@{DIGEST}",
                destinations=("registry.lan/b:v1",),
                digest=DIGEST,
                result=result,
                detail="https://alice:s3cret@registry.lan/v2/ refused",
            ),
        )
    entries = read_entries(log)
    assert [e["result"] for e in entries] == ["promoted", "failed"]
    assert set(entries[0]) >= {"time", "tool", "source", "destinations", "digest", "result"}
    assert "s3cret" not in log.read_text()


def test_mirror_names_and_pinned_images(tmp_path: Path) -> None:
    target = MirrorTarget.parse("127.0.0.1:5000/mirror")
    cuda = parse_reference(f"nvidia/cuda:12.4.1-base-ubuntu22.04@{DIGEST}")
    assert target.repository_for(cuda).name == "127.0.0.1:5000/mirror/nvidia/cuda"
    other = parse_reference(f"nvcr.io/nvidia/pytorch@{DIGEST}")
    assert target.repository_for(other).repository == "mirror/nvcr.io/nvidia/pytorch"
    local = parse_reference(f"127.0.0.1:6000/x/y@{DIGEST}")
    assert MirrorTarget.parse("localhost:1").repository_for(local).repository == (
        "127.0.0.1-6000/x/y"
    )
    with pytest.raises(UsageError):
        MirrorTarget.parse("not a host")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"ARG BASE=python:3.11@{DIGEST}\nFROM $BASE AS build\n"
        "FROM build\nCOPY --from=alpine:3.20 /x /x\n"
        f"RUN --mount=type=bind,from=busybox@{OTHER},target=/b true\n"
    )
    found = find_pinned_images([dockerfile])
    assert [(f.line, f.ref is not None) for f in found] == [(2, True), (4, False), (5, True)]
