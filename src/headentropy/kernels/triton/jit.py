"""Wrapping the kernel sources for Triton: compiled (`triton.jit`) or interpreted, chosen per call.

* CUDA tensors: the kernels are compiled with `triton.jit` (the real backend).
* `TRITON_INTERPRET=1` in the environment *at call time*: the same kernel source runs through
  Triton's NumPy interpreter (`InterpretedFunction`), on CPU or CUDA tensors. It is slow and
  meant for tests.

The kernel sources (fwd.py, bwd.py) are plain Python functions that read `tl` from their
module's globals; nothing imports triton until a kernel is wrapped here, and each source is
wrapped lazily once per mode. Both wrappers of one source share that module's globals, so the
helpers the kernels call (`HELPERS`, e.g. `fmix32`) are bound there once, as compiled-mode
`JITFunction`s, whatever the mode: a compiled kernel inlines them, and an interpreted launch runs
them through their interpreter rewrite (shim 1 in `_install_interpreter_shims`, the same path
Triton's own `tl.sum` takes). So the two wrappers of one source still coexist in one process.
"""

from __future__ import annotations

import os
from typing import Callable

_TRUTHY = ("1", "true", "yes", "on", "y")  # how triton.knobs reads TRITON_INTERPRET
_WRAPPED: dict[tuple[Callable, bool], object] = {}  # (kernel source, interpret?) -> wrapped kernel


def fmix32(x):
    """murmur3's 32-bit finaliser (kernels/dropout.py's `fmix`) on uint32 words, any shape: the
    dropout hash of fwd.py and bwd.py (row word [BM], score word [BM, BN]). uint32 products wrap
    mod 2^32, as the hash wants. Called from kernels only, as a JIT helper (see `HELPERS`)."""
    x = x ^ (x >> 16)
    x = x * 0x85EBCA6B
    x = x ^ (x >> 13)
    x = x * 0xC2B2AE35
    return x ^ (x >> 16)


HELPERS = (fmix32,)  # plain sources; `kernel()` binds each, JIT-wrapped, under its name in the kernel's module
_JIT_HELPERS: dict[Callable, object] = {}  # helper source -> its one JITFunction


def interpreter_enabled() -> bool:
    """True when TRITON_INTERPRET asks for Triton's interpreter (read at every call)."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in _TRUTHY


def kernel(source: Callable, interpret: bool):
    """`source` wrapped by triton.jit, or by the interpreter when `interpret` (cached)."""
    key = (source, interpret)
    if key not in _WRAPPED:
        import triton
        import triton.language

        module_globals = source.__globals__
        module_globals["tl"] = triton.language  # the name the kernel body reads
        # The interpreter patches the language modules it finds among the kernel's globals;
        # with `core` there too, triton's standard library (tl.zeros, tl.sum) resolves to the
        # interpreted builtins as well (see _install_interpreter_shims).
        module_globals["_tl_core"] = triton.language.core
        for helper in HELPERS:  # one JITFunction per helper, the same object in every module and mode
            if helper not in _JIT_HELPERS:
                from triton.runtime.jit import JITFunction

                _JIT_HELPERS[helper] = JITFunction(helper)
            module_globals[helper.__name__] = _JIT_HELPERS[helper]
        if interpret:
            from triton.runtime.interpreter import InterpretedFunction

            _install_interpreter_shims()
            _WRAPPED[key] = InterpretedFunction(source)
        else:
            _WRAPPED[key] = triton.jit(source)
    return _WRAPPED[key]


def _install_interpreter_shims() -> None:
    """Make Triton's interpreter work when TRITON_INTERPRET is set *after* triton's import.

    1. triton.language's standard library (`tl.sum`, `tl.max`, ...) is `@jit`-decorated when
       triton is imported; imported without TRITON_INTERPRET, those are compiled-mode
       `JITFunction`s, which refuse to be called from interpreted code. During an interpreted
       launch we let them run their interpreter rewrite instead (what they would have been,
       had the variable been set before the import).
    2. The interpreter keeps scalars as 1-element 1-d arrays and implements `tensor.__index__`
       as `int(array)`, which NumPy >= 2.4 refuses, so `range(lo, hi, BLOCK_N)` with runtime
       bounds fails; we read the single element instead.

    Both are attributes set through the interpreter's own per-launch patch scope, so they are
    restored when each launch ends; compiled launches never see them.
    """
    import numpy as np
    from triton.runtime import interpreter
    from triton.runtime.jit import JITFunction

    original = interpreter._patch_lang
    if getattr(original, "_headentropy_shims", False):
        return
    try:
        int(np.array([1]))
        numpy_refuses = False
    except TypeError:
        numpy_refuses = True
    rewritten: dict = {}

    def call_jit_function_interpreted(self, *args, **kwargs):
        fn = rewritten.get(self.fn)
        if fn is None:  # the language is already patched for this launch: just run the rewrite
            fn = rewritten[self.fn] = interpreter.InterpretedFunction(self.fn).rewrite()
        return fn(*args, **kwargs)

    def patch_lang(fn):
        scope = original(fn)
        scope.set_attr(JITFunction, "__call__", call_jit_function_interpreted)
        if numpy_refuses:
            scope.set_attr(interpreter.tl.core.tensor, "__index__",
                           lambda self: int(self.handle.data.reshape(-1)[0]))
        return scope

    patch_lang._headentropy_shims = True
    interpreter._patch_lang = patch_lang


def next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())
