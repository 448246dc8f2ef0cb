"""The `cpu` kernel's other instruction-set paths, built and tested on this machine.

The extension is built with -march=native, so a machine with AVX-512 only ever runs the AVX-512
code in vec_math.h (exp, the row passes); the AVX2 body (used on e.g. AVX2-only AMD EPYCs) and
the scalar fallback would go untested. Here each is built for its x86-64 level
(HEADENTROPY_CPU_ARCH, its own build key) and the `cpu` tests of the shared grid run against it
in a child pytest: forward and gradients against the fp64 reference, non-finite inputs, masks,
the logits' entropy and the kernel's own tests.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from headentropy.kernels.cpu import loader

ROOT = Path(__file__).resolve().parents[2]

# The cpu tests of the shared grid (ids carry "cpu") and every test of the kernel's own file.
CHILD_TESTS = ["tests/kernels/test_attention.py", "tests/kernels/test_gradients.py",
               "tests/confidence/test_logits.py", "tests/kernels/test_cpu_kernel.py"]
CHILD_SELECT = "cpu or test_cpu_kernel"
MIN_TESTS = 250  # about 290 today: fewer means the selection silently lost tests

ARCHES = {
    "x86-64-v3": {"avx2", "fma"},  # AVX2 + FMA: vec_math.h's AVX2 body
    "x86-64-v2": set(),            # SSE4.2 only: at::vec's scalar-width fallback
}


def _cpu_flags() -> set[str]:
    return set(loader._cpu_flags().split())


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 levels only")
@pytest.mark.skipif(loader.find_compiler() is None, reason="no C++ compiler to build the variants")
@pytest.mark.parametrize("arch", list(ARCHES))
def test_isa_variant_passes_the_cpu_tests(arch, monkeypatch):
    missing = ARCHES[arch] - _cpu_flags()
    if missing:
        pytest.skip(f"this CPU lacks {sorted(missing)} for {arch}")
    env = {**os.environ, loader.ARCH_ENV: arch, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", CHILD_SELECT, *CHILD_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    report = child.stdout[-4000:] + child.stderr[-2000:]
    assert child.returncode == 0, f"{arch} build failed its tests:\n{report}"
    passed = re.search(r"(\d+) passed", child.stdout)
    assert passed and int(passed.group(1)) >= MIN_TESTS, f"too few tests ran for {arch}:\n{report}"
    # A kernel that could not build would turn the tests into skips, not failures.
    assert " skipped" not in child.stdout.splitlines()[-1], f"{arch}: tests were skipped:\n{report}"
    monkeypatch.setenv(loader.ARCH_ENV, arch)
    assert list(loader.KERNEL.build_dir().glob("*.so")), f"no {arch} build in {loader.KERNEL.build_dir()}"
