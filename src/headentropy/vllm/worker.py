"""vLLM worker extension (`worker_extension_cls`): the RPC that hands statistics out of the engine.

vLLM mixes this class into its worker, so `llm.collective_rpc("headentropy_collect", ...)`
reaches `headentropy_collect` in the process where the statistics were aggregated. The result is
plain ints, strings and bytes (msgpack-safe without `VLLM_ALLOW_INSECURE_SERIALIZATION`).
"""

from __future__ import annotations

from . import logits as _logits
from .collector import COLLECTOR

# vLLM imports this module in its worker processes (and only there) to resolve the extension:
# the hook that records each sampled token's log-probability and predictive entropy goes in now.
_logits.install_sample_hook()


class EntropyWorkerExtension:
    def headentropy_collect(self, req_ids: list[str] | None = None, heads: bool = True,
                            pop: bool = True) -> dict:
        payload = COLLECTOR.export(req_ids, heads=heads, pop=pop)
        # each request's sampled tokens' (log-probability, predictive entropy), float32 pairs
        payload["token_stats"] = {rid: _logits.pack(_logits.take(rid, pop=pop)) for rid in payload["requests"]}
        return payload

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
            samples = _logits.take(rid, pop=pop)
            try:
                trace = _to_trace(rec, payload["layers"], "")
                _logits.attach(trace, samples)
                out[rid] = request_summary(trace)
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
            _logits.drop(ext)
        return dropped
