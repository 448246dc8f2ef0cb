"""Small per-request summaries of a finished request's statistics (for the OpenAI server).

Computed in the engine process from the request's full trace (`Collector.export`); only the
summary crosses to the API server:

* `entropy`: one number per generated token, the normalised Shannon entropy `H / log n` averaged
  over layers and heads of the attention step that *produced* the token. Generated token k comes
  from the query at position `prompt_len - 1 + k` (the last prompt position produced token 0,
  generated token k - 1 fed back produced token k), so every generated token has one, including
  the last. None where a position has no normalised entropy (a query that sees one key).
* `features`: the confidence scorer's answer features (`confidence.answer_features`, the
  compact per-head answer means and summaries, float64), so the API server scores them with
  whichever scorer matches the model (`ConfidenceScorer.score_features`) and the score equals
  `scorer.score(trace)` of the same trace. The logit features (token log-probability,
  predictive entropy) come from the sampled tokens' raw logits (`logits.py`), as in the HF path.

Pure torch: importable (and tested) without vLLM.
"""

from __future__ import annotations

import math

import torch

from ..trace import EntropyTrace, normalized_entropy


def token_entropy(trace: EntropyTrace) -> list[float | None]:
    """Per generated token: mean normalised Shannon over layers and heads of the query that produced it."""
    if trace.batch != 1:
        raise ValueError(f"one request per trace, got a batch of {trace.batch}")
    N = trace.num_positions
    prompt_len = int((~trace.generated[0]).sum())
    if N == 0 or prompt_len == 0:
        return []
    hn = normalized_entropy(trace.shannon, trace.n_keys[:, :, None, :], trace.valid[:, None, None, :])  # [1, L, H, N]
    mean = hn[0].double().mean(dim=(0, 1))  # [N]; NaN where undefined
    return [None if not math.isfinite(v) else float(v) for v in mean[prompt_len - 1:].tolist()]


def request_summary(trace: EntropyTrace) -> dict:
    """msgpack-safe summary of one request: ints, floats, None and bytes only."""
    from ..confidence.features import answer_features

    features = answer_features(trace)[0].to(torch.float64).contiguous()
    return {
        "entropy": token_entropy(trace),
        "prompt_len": int((~trace.generated[0]).sum()),
        "num_positions": trace.num_positions,
        "layers": len(trace.layers),
        "heads": trace.num_heads,
        "features": features.numpy().tobytes(),  # [F] float64, feature_names(layers, heads) order
    }


def features_from_summary(summary: dict) -> torch.Tensor:
    """`[1, F]` float64: the summary's answer features, for `ConfidenceScorer.score_features`."""
    return torch.frombuffer(bytearray(summary["features"]), dtype=torch.float64).clone()[None]
