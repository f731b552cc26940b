"""``reprobuild promote`` against real distribution registries (harness fixtures), with
the loopback fault proxy counting requests and injecting faults."""

from __future__ import annotations

import base64
import itertools
import json
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from promote_helpers import Sleeps, client_for, push_layered_image, write_record
from typer.testing import CliRunner

from reprobuild.cli import app
from reprobuild.promote.audit import read_entries
from reprobuild.promote.copy import PromotionResult
from reprobuild.promote.errors import PromotionRefused, VerificationError
from reprobuild.promote.plan import BlobAction, Plan
from reprobuild.promote.policy import PromotionPolicy
from reprobuild.promote.run import PromoteOptions, promote
from reprobuild.registry.client import RegistryClient
from reprobuild.registry.errors import (
    ManifestUnknownError,
    RegistryAuthError,
    RegistryUnreachableError,
)
from reprobuild.registry.reference import parse_reference

if TYPE_CHECKING:
    from registry_helpers import MultiArchIndex

    from tests.harness.types import RegistryInfo

pytestmark = pytest.mark.engine

ProxyFactory = Callable[..., Any]


def policy_in(tmp_path: Path, **fields: Any) -> PromotionPolicy:
    return PromotionPolicy(where="test: ", audit_log=tmp_path / "audit.jsonl", **fields)


def run(
    source: str,
    destinations: list[str],
    client: RegistryClient,
    tmp_path: Path,
    *,
    dest_client: RegistryClient | None = None,
    policy: PromotionPolicy | None = None,
    **options: Any,
) -> PromotionResult:
    outcome = promote(
        source,
        destinations,
        policy=policy or policy_in(tmp_path),
        source_client=client,
        dest_client=dest_client,
        options=PromoteOptions(**options),
    )
    assert isinstance(outcome, PromotionResult)
    return outcome


def writes(counts: Counter[tuple[str, str]]) -> Counter[str]:
    """Requests that write, by method."""
    return Counter(
        {
            m: sum(n for (method, _), n in counts.items() if method == m)
            for m in ("POST", "PATCH", "PUT")
        }
    )


def tag_digest(client: RegistryClient, reference: str) -> str | None:
    try:
        return client.resolve(parse_reference(reference)).digest
    except ManifestUnknownError:
        return None


def docker_config(tmp_path: Path, *infos: RegistryInfo) -> Path:
    directory = tmp_path / "docker-config"
    directory.mkdir(exist_ok=True)
    auths = {
        i.host: {"auth": base64.b64encode(f"{i.username}:{i.password}".encode()).decode()}
        for i in infos
    }
    (directory / "config.json").write_text(json.dumps({"auths": auths}))
    return directory


def test_same_registry_mounts_moves_no_layer_bytes_and_is_idempotent(
    registry_open: RegistryInfo, fault_proxy: ProxyFactory, tmp_path: Path
) -> None:
    proxy = fault_proxy(registry_open.host)
    with client_for(registry_open) as client:
        image = push_layered_image(client, f"{proxy.address}/staging/same", seed="same")
    before = Counter(proxy.counts)
    source = f"{proxy.address}/staging/same@{image.digest}"
    dests = [f"{proxy.address}/prod/same:v1", f"{proxy.address}/prod/same-too:v1"]
    with client_for(registry_open) as client:
        result = run(source, dests, client, tmp_path)
        assert result.blobs_mounted == 8 and result.bytes_copied == 0
        assert result.tags_applied == tuple(dests)
        moved = proxy.counts - before
        assert writes(moved)["PATCH"] == 0  # no upload session received a byte
        assert not any(method == "GET" and "/blobs/" in path for method, path in moved)
        for dest in dests:
            assert tag_digest(client, dest) == image.digest
            got = client.get_manifest(parse_reference(dest))
            assert got.digest == image.digest
        before = Counter(proxy.counts)
        again = run(source, dests, client, tmp_path)
    assert not again.changed
    assert sum(writes(proxy.counts - before).values()) == 0
    results = [e["result"] for e in read_entries(tmp_path / "audit.jsonl")]
    assert results == ["promoted", "unchanged"]


def test_index_across_registries_with_the_cli(
    registry_open: RegistryInfo,
    registry_basic: RegistryInfo,
    multiarch_index: MultiArchIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path, registry_basic)))
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.reprobuild]\n")
    source = f"{registry_open.host}/multiarch/demo@{multiarch_index.digest}"
    dest = f"{registry_basic.host}/promoted/multiarch:1.0"
    audit = tmp_path / "audit.jsonl"
    common = ["--config", str(config), "--audit-log", str(audit), "--format", "json"]
    runner = CliRunner()

    dry = runner.invoke(app, ["promote", source, dest, "--dry-run", *common])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.output)
    assert plan["manifests"] == 3 and plan["digest"] == multiarch_index.digest
    actions = {b["action"] for b in plan["destinations"][0]["blobs"]}
    assert actions == {"copy"} and plan["destinations"][0]["tags"][0]["action"] == "create"
    text = runner.invoke(app, ["promote", source, dest, "--dry-run", *common[:-2]])
    assert text.exit_code == 0 and "copy  blob sha256:" in text.output
    assert "create tag 1.0" in text.output
    assert not audit.exists()  # a dry run is not a promotion

    done = runner.invoke(app, ["promote", source, dest, *common])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["manifests_put"] == 3
    with client_for(registry_basic) as client:
        assert tag_digest(client, dest) == multiarch_index.digest
        for child in multiarch_index.children.values():
            child_ref = parse_reference(f"{registry_basic.host}/promoted/multiarch@{child}")
            assert client.get_manifest(child_ref).digest == child
    again = runner.invoke(app, ["promote", source, dest, *common])
    assert again.exit_code == 0 and json.loads(again.output)["result"] == "unchanged"

    tagged = runner.invoke(
        app, ["promote", f"{registry_open.host}/multiarch/demo:1.0", dest, *common]
    )
    assert tagged.exit_code == 2 and "--resolve-tag" in tagged.output
    resolved = runner.invoke(
        app, ["promote", f"{registry_open.host}/multiarch/demo:1.0", dest, "--resolve-tag", *common]
    )
    assert resolved.exit_code == 0, resolved.output
    entries = read_entries(audit)
    assert entries[-1]["resolved_from"] == f"{registry_open.host}/multiarch/demo:1.0"
    password = registry_basic.password or "unset"
    assert all(password not in json.dumps(e) for e in entries)


def test_layer_larger_than_the_memory_cap_streams(
    registry_open: RegistryInfo, registry_basic: RegistryInfo, tmp_path: Path
) -> None:
    layer, cap = 48 * 1024 * 1024, 8 * 1024 * 1024
    with client_for(registry_open, registry_basic) as client:
        image = push_layered_image(
            client, f"{registry_open.host}/staging/big", seed="big", layer_sizes=(layer,)
        )
        tracemalloc.start()
        try:
            result = run(
                f"{registry_open.host}/staging/big@{image.digest}",
                [f"{registry_basic.host}/prod/big:v1"],
                client,
                tmp_path,
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.blobs_copied == 2 and result.bytes_copied > layer
    print(f"tracemalloc peak {peak} B while copying a {layer} B layer")
    assert peak < cap, f"peak {peak} B while copying a {layer} B layer"


def test_destination_cut_mid_copy_then_rerun_reuses_blobs(
    registry_open: RegistryInfo,
    registry_basic: RegistryInfo,
    fault_proxy: ProxyFactory,
    tmp_path: Path,
) -> None:
    patches = itertools.count(1)

    def third_patch(method: str, path: str) -> bool:
        return method == "PATCH" and next(patches) == 3

    # The third blob upload fails the way a proxy reports a lost upstream connection
    # (502); the proxy cannot cut request bodies, and upload responses have no body to cut.
    proxy = fault_proxy(registry_basic.host, status_override=(502, {}), match=third_patch)
    with client_for(registry_open) as client:
        image = push_layered_image(
            client,
            f"{registry_open.host}/staging/cut",
            seed="cut",
            layer_sizes=(40_000, 50_000, 60_000, 70_000),
        )
    source = f"{registry_open.host}/staging/cut@{image.digest}"
    dest = f"{proxy.address}/prod/cut:v1"
    blobs = 5  # config + 4 layers
    with client_for(
        registry_open, via={proxy.address: registry_basic}, max_attempts=2, sleep=Sleeps()
    ) as client:
        with pytest.raises(RegistryUnreachableError):
            run(source, [dest], client, tmp_path, workers=1)
        first = writes(proxy.counts)
        assert first["PATCH"] == 3 and proxy.faulted
        assert tag_digest(client, dest) is None  # no tag after a failed copy

        second = run(source, [dest], client, tmp_path, workers=1)
        uploaded = writes(proxy.counts) - first
        assert uploaded["PATCH"] == blobs - 2  # the two blobs that made it are reused
        assert second.blobs_copied == blobs - 2 and second.blobs_skipped == 2
        assert tag_digest(client, dest) == image.digest

        done = Counter(proxy.counts)
        third = run(source, [dest], client, tmp_path, workers=1)
        assert not third.changed and sum(writes(proxy.counts - done).values()) == 0
    results = [e["result"] for e in read_entries(tmp_path / "audit.jsonl")]
    assert results == ["failed", "promoted", "unchanged"]


def test_source_bytes_not_matching_their_digest_abort(
    registry_open: RegistryInfo,
    registry_basic: RegistryInfo,
    fault_proxy: ProxyFactory,
    tmp_path: Path,
) -> None:
    with client_for(registry_open) as client:
        image = push_layered_image(client, f"{registry_open.host}/staging/bad", seed="bad")
    proxy = fault_proxy(
        registry_open.host,
        alter_body=lambda body: body[:-1] + bytes([body[-1] ^ 1]),
        match=lambda method, path: method == "GET" and path.endswith(image.layers[1]),
    )
    dest = f"{registry_basic.host}/prod/bad:v1"
    with client_for(registry_basic) as client:
        with pytest.raises(VerificationError, match=image.layers[1]):
            run(f"{proxy.address}/staging/bad@{image.digest}", [dest], client, tmp_path)
        assert tag_digest(client, dest) is None
        with pytest.raises(ManifestUnknownError):
            client.get_manifest(parse_reference(f"{registry_basic.host}/prod/bad@{image.digest}"))
        repo = parse_reference(f"{registry_basic.host}/prod/bad")
        assert not client.blob_exists(repo, image.layers[1])  # never committed
    entry = read_entries(tmp_path / "audit.jsonl")[-1]
    assert entry["result"] == "failed" and "verification" in entry["detail"]
    assert VerificationError.exit_code == 1


def test_unauthorized_destination(
    registry_open: RegistryInfo,
    registry_basic: RegistryInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with client_for(registry_open) as client:
        image = push_layered_image(client, f"{registry_open.host}/staging/auth", seed="auth")
    source = f"{registry_open.host}/staging/auth@{image.digest}"
    dest = f"{registry_basic.host}/prod/auth:v1"
    with client_for(registry_open) as client, pytest.raises(RegistryAuthError):
        run(source, [dest], client, tmp_path)
    empty = tmp_path / "empty-docker-config"
    empty.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))
    (tmp_path / "pyproject.toml").write_text("[tool.reprobuild]\n")
    result = CliRunner().invoke(
        app,
        [
            "promote",
            source,
            dest,
            "--config",
            str(tmp_path / "pyproject.toml"),
            "--audit-log",
            str(tmp_path / "cli.jsonl"),
        ],
    )
    assert result.exit_code == 2
    assert "requires a login" in result.output or "UNAUTHORIZED" in result.output
    assert read_entries(tmp_path / "cli.jsonl")[-1]["result"] == "failed"


def test_429_with_retry_after_is_waited_out(
    registry_open: RegistryInfo, fault_proxy: ProxyFactory, tmp_path: Path
) -> None:
    uploads = itertools.count()

    def first_two_upload_starts(method: str, path: str) -> bool:
        return method == "POST" and path.endswith("/blobs/uploads/") and next(uploads) < 2

    proxy = fault_proxy(
        registry_open.host,
        status_override=(429, {"Retry-After": "3"}),
        match=first_two_upload_starts,
    )
    with client_for(registry_open) as client:
        image = push_layered_image(client, f"{registry_open.host}/staging/busy", seed="busy")
    sleeps = Sleeps()
    with client_for(registry_open, sleep=sleeps) as client:
        result = run(
            f"{registry_open.host}/staging/busy@{image.digest}",
            [f"{proxy.address}/prod/busy:v1"],
            client,
            tmp_path,
            workers=1,
        )
        assert tag_digest(client, f"{proxy.address}/prod/busy:v1") == image.digest
    assert sleeps == [3.0, 3.0] and result.blobs_copied == 4


def test_policy_immutable_tag_and_required_record(
    registry_open: RegistryInfo, tmp_path: Path
) -> None:
    host = registry_open.host
    with client_for(registry_open) as client:
        first = push_layered_image(client, f"{host}/staging/pol", seed="pol-1")
        second = push_layered_image(client, f"{host}/staging/pol", seed="pol-2")
        dest = f"{host}/prod/pol:v1"
        policy = policy_in(tmp_path, require_record=True, immutable_tags=("v*",))
        with pytest.raises(PromotionRefused, match="require-record"):
            run(f"{host}/staging/pol@{first.digest}", [dest], client, tmp_path, policy=policy)
        failing = write_record(tmp_path / "failing.json", first, errors=1)
        with pytest.raises(PromotionRefused, match="lint did not pass"):
            run(str(failing), [dest], client, tmp_path, policy=policy)
        assert tag_digest(client, dest) is None
        passing = write_record(tmp_path / "first.json", first)
        run(str(passing), [dest], client, tmp_path, policy=policy)
        newer = write_record(tmp_path / "second.json", second)
        with pytest.raises(PromotionRefused, match="immutable") as info:
            run(str(newer), [dest], client, tmp_path, policy=policy)
        assert info.value.exit_code == 1
        assert tag_digest(client, dest) == first.digest
        outcome = promote(
            str(newer),
            [dest],
            policy=policy,
            source_client=client,
            options=PromoteOptions(allow_retag=True, dry_run=True),
        )
        assert isinstance(outcome, Plan)
        assert {b.action for b in outcome.destinations[0].blobs} <= {
            BlobAction.MOUNT,
            BlobAction.SKIP,
        }
        run(str(newer), [dest], client, tmp_path, policy=policy, allow_retag=True)
        assert tag_digest(client, dest) == second.digest
    results = [e["result"] for e in read_entries(tmp_path / "audit.jsonl")]
    assert results == ["refused", "refused", "promoted", "refused", "promoted"]


def test_mirror_copies_pinned_images_and_reports_what_is_there(
    registry_open: RegistryInfo,
    registry_basic: RegistryInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with client_for(registry_open) as client:
        image = push_layered_image(
            client, f"{registry_open.host}/nvidia/cuda", seed="eol", tag="11.8.0-base-ubuntu22.04"
        )
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path, registry_basic)))
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.reprobuild.promotion]\nmirror-registry = "{registry_basic.host}/mirror"\n'
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"FROM {registry_open.host}/nvidia/cuda:11.8.0-base-ubuntu22.04@{image.digest}\n"
        "COPY --from=alpine:3.20 /etc/os-release /tmp/\n"
    )
    args = [
        "mirror",
        str(dockerfile),
        "--config",
        str(tmp_path / "pyproject.toml"),
        "--format",
        "json",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    statuses = [r["status"] for r in json.loads(first.output)["results"]]
    assert statuses == ["mirrored", "not-pinned"]
    mirrored = json.loads(first.output)["results"][0]["destination"]
    assert mirrored.endswith(
        f"/mirror/127.0.0.1-{registry_open.host.split(':')[1]}/nvidia/cuda@{image.digest}"
    )
    with client_for(registry_basic) as client:
        assert client.get_manifest(parse_reference(mirrored)).digest == image.digest
        tag = mirrored.split("@")[0] + ":11.8.0-base-ubuntu22.04"
        assert tag_digest(client, tag) == image.digest
    again = CliRunner().invoke(app, args)
    assert json.loads(again.output)["results"][0]["status"] == "already-mirrored"


def test_destination_is_read_directly_not_through_its_mirror(
    registry_open: RegistryInfo,
    registry_basic: RegistryInfo,
    multiarch_index: MultiArchIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pull-through mirror configured for the destination (here a dead one) must not be
    what promotion checks: presence and tags are read from the destination itself."""
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path, registry_basic)))
    config = tmp_path / "pyproject.toml"
    config.write_text(
        f'[tool.reprobuild]\nregistry-mirrors = {{ "{registry_basic.host}" = "127.0.0.1:9" }}\n'
    )
    source = f"{registry_open.host}/multiarch/demo@{multiarch_index.digest}"
    dest = f"{registry_basic.host}/promoted/mirrored-config:1.0"
    result = CliRunner().invoke(
        app,
        ["promote", source, dest, "--config", str(config),
         "--audit-log", str(tmp_path / "audit.jsonl"), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    with client_for(registry_basic) as client:
        assert tag_digest(client, dest) == multiarch_index.digest
