"""Answer-level features for the confidence score, from one `EntropyTrace` (docs/design.md §13).

The *answer* of a row is its generated, valid positions (the tokens `generate` fed back; the last
sampled token is never fed, so it has no statistics). Features per row:

* per (layer, head): the mean over the answer of normalised Shannon entropy `H / log n`,
  normalised Rényi-2 and sink mass (`3·L·H` features, named `shannon/L03/H07`, ...);
* per (layer, head): normalised Shannon at the last prompt position, the query that produced the
  first answer token (`prompt_shannon/L03/H07`);
* over the answer, of the mean over layers and heads: the maximum step (`max_step_shannon`);
* from the logits: mean and min token log-probability, mean and max predictive entropy, the first
  token's log-probability, and log(1 + answer length);
* the same per-head Shannon means and logit features over the answer's *novel* tokens only: those
  whose token id does not occur in the row's prompt. A small model answers in sentences that
  repeat the question ("The atomic number of carbon is 12."); the repeated words are predicted
  almost surely and dilute the evidence, which sits in the new words.

Missing values (an empty answer, a trace without logits) are NaN; the scorer imputes them.

`aggregate_features` reduces the per-head groups to fewer dimensions for scorers that should
transfer to unseen question domains: `"layer"` (mean over the heads of each layer,
`shannon/L03`) or `"model"` (mean over every head, `shannon/all`); summaries and logit features
pass through unchanged.
"""

from __future__ import annotations

import math

import torch

from ..trace import EntropyTrace, normalized_entropy

LOGIT_FEATURES = ("mean_logprob", "min_logprob", "first_logprob", "mean_predictive_entropy",
                  "max_predictive_entropy", "log_length", "novel_mean_logprob", "novel_min_logprob",
                  "novel_mean_predictive_entropy", "novel_fraction")
SUMMARY_FEATURES = ("max_step_shannon", "mean_shannon")
HEAD_GROUPS = ("shannon", "renyi2", "sink_mass", "prompt_shannon", "novel_shannon")


def feature_names(num_layers: int, num_heads: int) -> list[str]:
    heads = [f"L{layer:02d}/H{h:02d}" for layer in range(num_layers) for h in range(num_heads)]
    return [f"{g}/{x}" for g in HEAD_GROUPS for x in heads] + list(SUMMARY_FEATURES) + list(LOGIT_FEATURES)


AGGREGATIONS = ("head", "layer", "model")


def aggregated_names(num_layers: int, num_heads: int, aggregation: str = "head") -> list[str]:
    """Feature names after `aggregate_features(..., aggregation)`."""
    if aggregation == "head":
        return feature_names(num_layers, num_heads)
    if aggregation == "layer":
        units = [f"L{layer:02d}" for layer in range(num_layers)]
    elif aggregation == "model":
        units = ["all"]
    else:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    return [f"{g}/{u}" for g in HEAD_GROUPS for u in units] + list(SUMMARY_FEATURES) + list(LOGIT_FEATURES)


def aggregate_features(x: torch.Tensor, num_layers: int, num_heads: int, aggregation: str = "head") -> torch.Tensor:
    """`[n, feature_names(L, H)]` -> `[n, aggregated_names(L, H, aggregation)]`.

    A per-head group becomes the mean over the heads of each layer (`"layer"`) or over all heads
    (`"model"`), NaN heads left out (NaN when all are); `"head"` returns `x` itself.
    """
    L, H, G = num_layers, num_heads, len(HEAD_GROUPS)
    if x.ndim != 2 or x.shape[1] != len(feature_names(L, H)):
        raise ValueError(f"features of shape {tuple(x.shape)}; a model with {L} layers x {H} heads has "
                         f"{len(feature_names(L, H))} per row")
    if aggregation == "head":
        return x
    n = x.shape[0]
    heads = x[:, :G * L * H].reshape(n, G, L, H)  # [n, G, L, H]
    rest = x[:, G * L * H:]  # [n, summaries + logits]
    if aggregation == "layer":
        agg = heads.nanmean(-1)  # [n, G, L]
    elif aggregation == "model":
        agg = heads.reshape(n, G, L * H).nanmean(-1, keepdim=True)  # [n, G, 1]
    else:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    return torch.cat([agg.reshape(n, -1), rest], dim=1)


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the last axis where `mask` (broadcast), NaN where nothing is selected."""
    m = mask.expand_as(x) & ~torch.isnan(x)
    total = torch.where(m, x, torch.zeros((), dtype=x.dtype)).sum(-1)
    count = m.sum(-1)
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


def answer_spans(trace: EntropyTrace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`answer [B, N]` bool (generated and valid), `novel [B, N]` (answer tokens whose id is not
    in the row's prompt) and `prompt_last [B]` (index of the position that produced the first
    answer token, -1 when the row generated nothing)."""
    answer = trace.generated & trace.valid
    prompt = trace.valid & ~trace.generated  # [B, N]
    ids = trace.token_ids  # [B, N]
    # [B, N, N] compare is fine for answers (N ~ 100); -1 ids (embeddings) never count as novel
    seen = ((ids[:, :, None] == ids[:, None, :]) & prompt[:, None, :]).any(-1)
    novel = answer & ~seen & (ids >= 0)
    first = torch.where(answer.any(-1), answer.to(torch.int8).argmax(-1), torch.full((trace.batch,), -1))
    return answer, novel, torch.where(first > 0, first - 1, torch.full_like(first, -1))


def answer_features(trace: EntropyTrace) -> torch.Tensor:
    """`[B, F]` float64 in `feature_names(L, H)` order (NaN where a feature is undefined)."""
    for name in ("shannon", "renyi2", "sink_mass"):
        trace.stat(name)  # a clear error when monitor(stats=...) left one out
    B, L, H, N = trace.shannon.shape
    answer, novel, prompt_last = answer_spans(trace)  # [B, N], [B, N], [B]
    n_keys = trace.n_keys[:, :, None, :]  # [B, L, 1, N]
    everywhere = trace.valid[:, None, None, :]  # [B, 1, 1, N]
    hn = normalized_entropy(trace.shannon, n_keys, everywhere).double()  # [B, L, H, N]
    h2n = normalized_entropy(trace.renyi2, n_keys, everywhere).double()
    sink = trace.sink_mass.double()
    span = answer[:, None, None, :]  # [B, 1, 1, N]

    groups = [_masked_mean(hn, span), _masked_mean(h2n, span), _masked_mean(sink, span)]  # [B, L, H] each
    at_prompt = torch.full((B, L, H), float("nan"), dtype=torch.float64)
    rows = prompt_last >= 0
    if bool(rows.any()):
        at_prompt[rows] = hn[rows, :, :, prompt_last[rows]]
    groups.append(at_prompt)
    groups.append(_masked_mean(hn, novel[:, None, None, :]))
    heads = torch.cat([g.reshape(B, L * H) for g in groups], dim=1)  # [B, 4·L·H]

    step_mean = hn.nanmean(dim=(1, 2))  # [B, N] mean over layers and heads
    step_mean = torch.where(answer, step_mean, torch.full_like(step_mean, float("nan")))
    has_answer = answer.any(-1)
    max_step = torch.where(has_answer, torch.nan_to_num(step_mean, nan=-math.inf).amax(-1),
                           torch.full((B,), float("nan"), dtype=torch.float64))
    summary = torch.stack([max_step, _masked_mean(step_mean, answer)], dim=1)  # [B, 2]
    return torch.cat([heads, summary, _logit_features(trace, answer, novel)], dim=1)


def _logit_features(trace: EntropyTrace, answer: torch.Tensor, novel: torch.Tensor) -> torch.Tensor:
    B = trace.batch
    nan = torch.full((B,), float("nan"), dtype=torch.float64)
    length = answer.sum(-1).double()
    fraction = torch.where(length > 0, novel.sum(-1).double() / length.clamp(min=1), nan)
    if trace.token_logprob is None or trace.predictive_entropy is None:
        return torch.stack([nan, nan, nan, nan, nan, torch.log1p(length), nan, nan, nan, fraction], dim=1)
    lp = trace.token_logprob.double()
    pe = trace.predictive_entropy.double()
    known = answer & ~torch.isnan(lp)
    first = torch.where(known.any(-1), known.to(torch.int8).argmax(-1), torch.zeros(B, dtype=torch.long))
    first_lp = torch.where(known.any(-1), lp.gather(1, first[:, None])[:, 0], nan)
    min_lp = torch.where(known.any(-1), torch.where(known, lp, math.inf).amin(-1), nan)
    max_pe = torch.where(known.any(-1), torch.where(known, pe, -math.inf).amax(-1), nan)
    new = novel & known
    novel_min = torch.where(new.any(-1), torch.where(new, lp, math.inf).amin(-1), nan)
    return torch.stack([_masked_mean(lp, known), min_lp, first_lp, _masked_mean(pe, known), max_pe,
                        torch.log1p(length), _masked_mean(lp, new), novel_min, _masked_mean(pe, new), fraction], dim=1)
