"""vLLM general plugin (entry point group `vllm.general_plugins`, name `headentropy`).

vLLM calls `register()` in every process it starts (API server, engine core, workers) before
it selects attention backends, so the registration below is seen where the model runs.

* `AttentionBackendEnum.CUSTOM` -> `EntropyCPUAttentionBackend`. Registering alone changes
  nothing: an engine uses it only when asked (`attention_backend="CUSTOM"`,
  `--attention-backend CUSTOM`).
* vLLM 0.32's `CpuPlatform.get_attn_backend_cls` ignores every requested backend but CPU_ATTN
  (it logs "Cannot use CUSTOM backend on CPU" and falls back), so the plugin wraps it: a request
  for CUSTOM, when CUSTOM is registered, returns the registered class; everything else goes to
  vLLM's own selector unchanged.

Must be safe to call many times (vLLM's plugin contract).
"""

from __future__ import annotations

import logging

logger = logging.getLogger("vllm.headentropy")  # under "vllm": its handlers and format

BACKEND_PATH = "headentropy.vllm.backend.EntropyCPUAttentionBackend"


def register() -> None:
    from vllm.v1.attention.backends.registry import AttentionBackendEnum, register_backend

    custom = AttentionBackendEnum.CUSTOM
    if custom.is_overridden() and custom.get_path() != BACKEND_PATH:
        logger.warning("headentropy: AttentionBackendEnum.CUSTOM is already registered to %s; "
                       "headentropy's backend is not registered", custom.get_path())
        return
    register_backend(custom, BACKEND_PATH)
    _let_cpu_platform_select_custom()


def _let_cpu_platform_select_custom() -> None:
    try:
        from vllm.platforms.cpu import CpuPlatform
    except Exception:  # not a CPU build of vLLM: nothing to patch
        return
    if getattr(CpuPlatform, "_headentropy_custom", False):
        return
    from vllm.v1.attention.backends.registry import AttentionBackendEnum

    original = CpuPlatform.get_attn_backend_cls.__func__

    def get_attn_backend_cls(cls, selected_backend, attn_selector_config, num_heads=None):
        if (selected_backend == AttentionBackendEnum.CUSTOM and AttentionBackendEnum.CUSTOM.is_overridden()
                and not attn_selector_config.use_mla and not attn_selector_config.use_sparse):
            return AttentionBackendEnum.CUSTOM.get_path()
        return original(cls, selected_backend, attn_selector_config, num_heads)

    CpuPlatform.get_attn_backend_cls = classmethod(get_attn_backend_cls)
    CpuPlatform._headentropy_custom = True
