"""Prove the CUDA runtime from the nvidia-cuda-runtime-cu12 wheel is in the image.

Loading the shared library needs no GPU (calling into it would): the dynamic loader
resolves libcudart.so.12 and its dependencies from the image, which is what a framework
like torch does at import time.
"""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import nvidia.cuda_runtime


def main() -> int:
    lib_dir = Path(next(iter(nvidia.cuda_runtime.__path__))) / "lib"
    library = ctypes.CDLL(str(lib_dir / "libcudart.so.12"))
    print(f"loaded {library._name} with Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
