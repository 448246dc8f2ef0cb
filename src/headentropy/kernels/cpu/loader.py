"""Build (once) and load the fused CPU kernels as PyTorch C++ extensions.

Each extension (`Extension`: the fused attention kernel `attention_entropy.cpp`, and
`paged_entropy.cpp`, the statistics kernel that reads vLLM's paged KV cache) is compiled on first
use with `torch.utils.cpp_extension.load` into `user_cache_dir("headentropy")/<dir>/<key>/`,
where `<key>` hashes the C++ source and the headers beside it (`vec_math.h`, shared by both
kernels: a header change rebuilds both), the torch and Python versions, the compiler flags and the
CPU's instruction-set flags (the build uses `-march=native`). Later processes import the cached
shared object directly, without a compiler.

Where the build is impossible (no compiler, failed compile), `load()` raises
`KernelUnavailable` with the reason, after one `RuntimeWarning` per process and extension; the
backend's probe turns that into `(False, reason)`, so `backend="auto"` falls back to the `torch`
backend. The module-level functions (`load`, `build_key`, `build_dir`, `module_name`, `reset`)
are those of the attention kernel; `PAGED` is the paged-cache kernel.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType

# $HEADENTROPY_CACHE moves the build cache with every other cache of the project (tests use a
# temporary one).
from ...cache import CACHE_ENV, cache_dir as cache_root  # noqa: F401 -- CACHE_ENV: for tests

SOURCE = Path(__file__).with_name("attention_entropy.cpp")
# Headers the kernels include (by relative path, from this folder); part of every build key.
HEADERS = ("vec_math.h",)
# -march: the vector ISA of the build (AVX-512 / AVX2 / scalar paths in the .cpp follow it).
# Override with e.g. HEADENTROPY_CPU_ARCH=x86-64-v3 for a cache shared by different machines.
ARCH_ENV = "HEADENTROPY_CPU_ARCH"
# -fopenmp at link time records libgomp.so.1, which resolves to the copy torch already loaded.
LDFLAGS = ("-fopenmp",)


def header_bytes() -> bytes:
    """The shared headers' contents, in HEADERS order (a change must rebuild every kernel)."""
    return b"\0".join(SOURCE.with_name(name).read_bytes() for name in HEADERS)


class KernelUnavailable(RuntimeError):
    """A compiled CPU kernel cannot be built or loaded here; the message says why."""


def _cpu_flags() -> str:
    """The CPU's instruction-set flags: a cache built with -march=native is only valid for them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cflags() -> tuple[str, ...]:
    return ("-O3", f"-march={os.environ.get(ARCH_ENV, 'native')}", "-fopenmp", "-std=c++17")


def find_compiler() -> str | None:
    """The C++ compiler torch.utils.cpp_extension would use ($CXX or c++), if it exists."""
    return shutil.which(os.environ.get("CXX", "c++"))


class Extension:
    """One C++ source built into its own cached extension module, loaded once per process."""

    def __init__(self, source: Path, prefix: str, subdir: str, what: str) -> None:
        self.source = source  # the .cpp file
        self.prefix = prefix  # module name prefix (the build key follows)
        self.subdir = subdir  # folder under the cache root
        self.what = what  # for messages: "the fused CPU kernel"
        self._lock = threading.Lock()
        self._module: ModuleType | None = None
        self._error: str | None = None

    def build_key(self, source: bytes | None = None) -> str:
        import torch

        h = hashlib.sha256()
        for part in (
            self.source.read_bytes() if source is None else source,
            header_bytes(),
            torch.__version__.encode(),
            sys.version.encode(),
            " ".join(cflags() + LDFLAGS).encode(),
            _cpu_flags().encode(),
        ):
            h.update(part)
            h.update(b"\0")
        return h.hexdigest()[:16]

    def build_dir(self) -> Path:
        return cache_root() / self.subdir / self.build_key()

    def module_name(self) -> str:
        return f"{self.prefix}_{self.build_key()}"

    def _build(self, name: str, directory: Path) -> ModuleType:
        if find_compiler() is None:
            raise KernelUnavailable(
                f"no C++ compiler found (looked for {os.environ.get('CXX', 'c++')!r} on PATH; "
                "install g++ or set CXX)"
            )
        directory.mkdir(parents=True, exist_ok=True)
        print(
            f"headentropy: compiling {self.what} (once, about a minute) into {directory}",
            file=sys.stderr,
            flush=True,
        )
        from torch.utils import cpp_extension

        return cpp_extension.load(
            name=name,
            sources=[str(self.source)],
            extra_cflags=list(cflags()),
            extra_ldflags=list(LDFLAGS),
            build_directory=str(directory),
            verbose=False,
        )

    def loaded(self) -> ModuleType | None:
        """The extension if this process has already loaded it, else None (never builds)."""
        return self._module

    def load(self) -> ModuleType:
        """The compiled extension (built on the first call of the process if not cached)."""
        if self._module is not None:
            return self._module
        with self._lock:
            if self._module is not None:
                return self._module
            if self._error is not None:
                raise KernelUnavailable(self._error)
            name, directory = self.module_name(), self.build_dir()
            try:
                self._module = _import_built(name, directory) or self._build(name, directory)
            except Exception as exc:  # any build/import failure means: use another backend
                reason = str(exc) if isinstance(exc, KernelUnavailable) else _summarise(exc)
                self._error = reason
                warnings.warn(
                    f"headentropy: {self.what} is unavailable ({reason}); "
                    "backend='auto' uses the portable 'torch' backend instead.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                raise KernelUnavailable(reason) from exc
            return self._module

    def reset(self) -> None:
        """Forget the loaded module and any recorded failure (tests; a new cache dir)."""
        with self._lock:
            self._module = None
            self._error = None


def _import_built(name: str, directory: Path) -> ModuleType | None:
    path = directory / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[-1]}"
    candidates = [path, directory / f"{name}.so"]
    for so in candidates:
        if so.is_file():
            spec = importlib.util.spec_from_file_location(name, so)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def _summarise(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + "…"
    return f"building the C++ extension failed: {type(exc).__name__}: {text}"


# The fused attention kernel (the `cpu` backend).
KERNEL = Extension(SOURCE, "headentropy_cpu", "cpu_kernel", "the fused CPU kernel")
# Statistics straight from vLLM's paged CPU KV cache (headentropy.vllm); same flags and cache.
PAGED = Extension(Path(__file__).with_name("paged_entropy.cpp"), "headentropy_paged", "paged_kernel",
                  "the paged-cache statistics kernel")


def build_key(source: bytes | None = None) -> str:
    return KERNEL.build_key(source)


def build_dir() -> Path:
    return KERNEL.build_dir()


def module_name() -> str:
    return KERNEL.module_name()


def load() -> ModuleType:
    """The compiled attention kernel (built on the first call of the process if not cached)."""
    return KERNEL.load()


def reset() -> None:
    """Forget the loaded modules and any recorded failures (tests; a new cache dir)."""
    KERNEL.reset()
    PAGED.reset()
