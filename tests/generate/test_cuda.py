"""CUDA inference from real locks, and nvidia/cuda tag choice from the data table."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprobuild.generate.cuda import (
    CudaSelectionError,
    choose_cuda_base,
    cuda_data,
    infer_cuda,
)
from reprobuild.lockfiles import read_lock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cuda"


@pytest.mark.parametrize(
    ("lockfile", "cuda", "from_wheels", "evidence"),
    [
        ("torch-pypi.txt", "12.4", True, "nvidia-cuda-runtime-cu12==12.4.127"),
        ("tensorflow-and-cuda.txt", "12.5", True, "nvidia-cuda-runtime-cu12==12.5.82"),
        ("jax-cuda12.txt", "12.9", True, "nvidia-cuda-runtime-cu12==12.9.79"),
        ("torch-cu121.txt", "12.1", False, "torch==2.4.1+cu121"),
    ],
)
def test_infers_cuda_from_real_locks(
    lockfile: str, cuda: str, from_wheels: bool, evidence: str
) -> None:
    requirement = infer_cuda(read_lock(FIXTURES / lockfile))
    assert requirement is not None
    assert requirement.version == cuda
    assert requirement.libraries_from_wheels is from_wheels
    assert evidence in requirement.evidence


def test_cpu_only_lock_needs_no_cuda() -> None:
    assert infer_cuda(read_lock(FIXTURES / "cpu-only.txt")) is None


def test_contradiction_is_refused_naming_both_sides() -> None:
    with pytest.raises(CudaSelectionError) as info:
        infer_cuda(read_lock(FIXTURES / "torch-cu121-conflict.txt"))
    message = str(info.value)
    assert "torch==2.4.1+cu121" in message
    assert "nvidia-cuda-runtime-cu12==12.4.127" in message


@pytest.mark.parametrize(
    ("cuda", "kwargs", "tag"),
    [
        ("12.4", {}, "12.4.1-base-ubuntu22.04"),
        ("12.1", {"flavor": "runtime", "cudnn": True}, "12.1.1-cudnn8-runtime-ubuntu22.04"),
        ("12.3", {"flavor": "devel", "cudnn": True}, "12.3.2-cudnn9-devel-ubuntu22.04"),
        ("12.6", {"flavor": "runtime", "cudnn": True, "os": "ubuntu24.04"},
         "12.6.3-cudnn-runtime-ubuntu24.04"),
        ("11.8", {"flavor": "runtime"}, "11.8.0-runtime-ubuntu22.04"),
        ("13.0.3", {}, "13.0.3-base-ubuntu22.04"),
    ],
)
def test_tag_choice(cuda: str, kwargs: dict[str, object], tag: str) -> None:
    base = choose_cuda_base(cuda, **kwargs)  # type: ignore[arg-type]
    assert base.tag == tag
    assert base.reference == f"nvidia/cuda:{tag}"


def test_driver_minimums_follow_minor_version_compatibility() -> None:
    assert choose_cuda_base("12.4").min_driver == "525.60.13"
    assert choose_cuda_base("12.4").toolkit_driver == "550.54.15"
    assert choose_cuda_base("11.8").min_driver == "450.80.02"
    assert choose_cuda_base("13.0").min_driver.startswith("580.")


@pytest.mark.parametrize(
    ("cuda", "kwargs", "needle"),
    [
        ("12.4", {"cudnn": True}, "only in the runtime and devel flavors"),
        ("12.8", {"flavor": "runtime", "cudnn": True}, "no cuDNN image"),
        ("12.5", {"flavor": "runtime", "cudnn": True, "os": "ubuntu24.04"}, "no cuDNN image"),
        ("12.4", {"os": "ubuntu24.04"}, "has no ubuntu24.04 images"),
        ("10.2", {}, "no nvidia/cuda release for CUDA 10.2"),
        ("twelve", {}, "invalid CUDA version"),
    ],
)
def test_impossible_choices_are_refused(cuda: str, kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(CudaSelectionError, match=needle):
        choose_cuda_base(cuda, **kwargs)  # type: ignore[arg-type]


def test_unsupported_release_is_a_warning_not_an_error() -> None:
    base = choose_cuda_base("12.8.1")
    assert base.tag == "12.8.1-base-ubuntu22.04"
    assert any("unsupported" in w for w in base.warnings)


def test_every_table_row_is_a_valid_tag() -> None:
    import re

    pattern = re.compile(cuda_data()["tag_pattern"])
    for row in cuda_data()["releases"]:
        for os in row["os"]:
            for flavor in ("base", "runtime", "devel"):
                tag = choose_cuda_base(row["cuda"], flavor=flavor, os=os).tag  # type: ignore[arg-type]
                assert pattern.match(tag), tag
