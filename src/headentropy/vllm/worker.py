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

    def headentropy_summaries(self, req_ids: list[str], pop: bool = True) -> dict:
        """Per found request id: `summary.request_summary` (per-token means and the confidence
        features), computed here so only a few KiB per request leave the engine process. Requests
        whose statistics are missing are left out; an error in one request is reported for it
        alone (`{"error": message}`)."""
        from . import _to_trace
        from .summary import request_summary

        payload = COLLECTOR.export(list(req_ids), heads=True, pop=pop)
        out = {}
        for rid, rec in payload["requests"].items():
            try:
                out[rid] = request_summary(_to_trace(rec, payload["layers"], ""))
            except Exception as e:  # noqa: BLE001 - one request's summary never fails the others
                out[rid] = {"error": f"{type(e).__name__}: {e}"}
        return {"requests": out}

    def headentropy_drop(self, req_ids: list[str]) -> int:
        """Forget the statistics of requests nobody will fetch (a client that went away, beam
        search's internal requests); ids match as in `Collector.export`. Returns how many."""
        dropped = 0
        for ext in req_ids:
            for r in [r for r in COLLECTOR.records
                      if r == ext or (r.startswith(ext + "-") and len(r) == len(ext) + 9)]:
                del COLLECTOR.records[r]
                dropped += 1
        return dropped
