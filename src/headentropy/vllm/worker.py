"""vLLM worker extension (`worker_extension_cls`): the RPC that hands statistics out of the engine.

vLLM mixes this class into its worker, so `llm.collective_rpc("headentropy_collect", ...)`
reaches `headentropy_collect` in the process where the statistics were aggregated. The result is
plain ints, strings and bytes (msgpack-safe without `VLLM_ALLOW_INSECURE_SERIALIZATION`).
"""

from __future__ import annotations

from .collector import COLLECTOR


class EntropyWorkerExtension:
    def headentropy_collect(self, req_ids: list[str] | None = None, heads: bool = True,
                            pop: bool = True) -> dict:
        return COLLECTOR.export(req_ids, heads=heads, pop=pop)
