"""Which locked packages install on the target, and the refusals that name them."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from reprobuild.generate.target import NotInstallableError, Target, select_packages
from reprobuild.models import Artifact, ArtifactKind, Hash, Lock, LockedPackage, LockFormat, Sha256

H = Hash("sha256", "a" * 64)


def _lock(*packages: LockedPackage, python: str | None = None) -> Lock:
    return Lock(
        format=LockFormat.UV, path=Path("/p/uv.lock"), sha256=Sha256("0" * 64),
        packages=packages, python=python,
    )


def _wheel_pkg(name: str, *filenames: str, marker: str | None = None) -> LockedPackage:
    return LockedPackage(
        name=canonicalize_name(name), version="1.0", hashes=(H,), marker=marker,
        artifacts=tuple(Artifact(kind=ArtifactKind.WHEEL, filename=f, hashes=(H,))
                        for f in filenames),
    )


def test_wheel_tags_follow_python_arch_and_glibc() -> None:
    target = Target(python="3.11", platform="linux/amd64", glibc=(2, 36))
    assert target.accepts_wheel("x-1.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    assert target.accepts_wheel("x-1.0-cp311-cp311-manylinux2014_x86_64.whl")
    assert target.accepts_wheel("x-1.0-cp38-abi3-manylinux_2_17_x86_64.whl")
    assert target.accepts_wheel("x-1.0-py3-none-any.whl")
    assert not target.accepts_wheel("x-1.0-cp311-cp311-manylinux_2_39_x86_64.whl")
    assert not target.accepts_wheel("x-1.0-cp311-cp311-manylinux_2_28_aarch64.whl")
    assert not target.accepts_wheel("x-1.0-cp312-cp312-manylinux_2_28_x86_64.whl")
    assert not target.accepts_wheel("x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl")
    arm = Target(python="3.11", platform="linux/arm64", glibc=(2, 35))
    assert arm.accepts_wheel("x-1.0-cp311-cp311-manylinux_2_28_aarch64.whl")


def test_glibc_too_new_is_refused_naming_the_package() -> None:
    lock = _lock(_wheel_pkg("fastlib", "fastlib-1.0-cp311-cp311-manylinux_2_39_x86_64.whl"))
    with pytest.raises(NotInstallableError) as info:
        select_packages(lock, Target(python="3.11", glibc=(2, 35)))
    assert "fastlib==1.0" in str(info.value)
    assert "needs glibc 2.39 but the base image has 2.35" in str(info.value)


def test_wrong_architecture_is_refused() -> None:
    lock = _lock(_wheel_pkg("armonly", "armonly-1.0-cp311-cp311-manylinux_2_17_aarch64.whl"))
    with pytest.raises(NotInstallableError, match=r"armonly==1\.0.*not x86_64"):
        select_packages(lock, Target(python="3.11"))


def test_python_outside_the_lock_range_is_refused() -> None:
    lock = _lock(_wheel_pkg("a", "a-1.0-py3-none-any.whl"), python=">=3.12")
    with pytest.raises(NotInstallableError, match=r"requires Python >=3\.12; the target is"):
        select_packages(lock, Target(python="3.11"))


def test_markers_select_for_the_target_not_the_host() -> None:
    lock = _lock(
        _wheel_pkg("winonly", "winonly-1.0-py3-none-any.whl", marker="sys_platform == 'win32'"),
        _wheel_pkg("old", "old-1.0-py3-none-any.whl", marker="python_version < '3.11'"),
        _wheel_pkg("armlib", "armlib-1.0-py3-none-any.whl",
                   marker="platform_machine == 'aarch64'"),
        _wheel_pkg("kept", "kept-1.0-py3-none-any.whl", marker="python_version >= '3.11'"),
    )
    names = [p.name for p in select_packages(lock, Target(python="3.11"))]
    assert names == ["kept"]
    arm = [p.name for p in select_packages(lock, Target(python="3.11", platform="linux/arm64"))]
    assert arm == ["armlib", "kept"]
