"""Confidence while `generate` runs: the scorer's answer features kept as running sums (a StepTap).

After every decode step the features of the answer so far are complete, so the scorer gives a
confidence per step; after the last step it equals `scorer.score(trace)` of the same generation
(tested). Everything stays on the model's device; a host copy happens only when a score is read.

Alignment (as in `features.py`): the answer is the generated positions, i.e. decode-step inputs;
a row stops counting once it has been fed an end-of-sequence token (batch rows that finished
early keep being fed padding).
"""

from __future__ import annotations

import math

import torch

from ..capture import StepEvent, StepTap
from ..trace import normalized_entropy
from .features import LOGIT_FEATURES, SUMMARY_FEATURES
from .scorer import ConfidenceScorer, ScorerError


class StreamingConfidence:
    """Running answer features and the scorer's confidence after each step.

    `tap` goes into `he.monitor(model, taps=[...])`; `steps()` is `[B, steps]` (one column per
    decode step), `confidence` the last column.
    """

    def __init__(self, scorer: ConfidenceScorer, eos_ids: list[int] | None = None, every_n_calls: int = 1):
        self.scorer = scorer
        self.eos_ids = list(eos_ids or [])
        self.tap = StepTap(self._on_step, every_n_calls=every_n_calls)
        # features of the answer so far after each decode step, [B, F] on the device: scored
        # only when read, so generation never waits for the host
        self._features_per_step: list[torch.Tensor] = []
        self._state: dict | None = None

    @property
    def confidence(self) -> torch.Tensor:
        """`[B]` float64 on the CPU: the confidence of each row's answer so far."""
        if not self._features_per_step:
            raise RuntimeError("no decode step was scored yet")
        return self.scorer.score_features(self._features_per_step[-1].cpu())

    def steps(self) -> torch.Tensor:
        """`[B, steps]` float64: the confidence after every decode step."""
        if not self._features_per_step:
            return torch.empty(0, 0, dtype=torch.float64)
        x = torch.stack(self._features_per_step, dim=1).cpu()  # [B, S, F]
        B, S, F = x.shape
        return self.scorer.score_features(x.reshape(B * S, F)).reshape(B, S)

    def reset(self) -> None:
        self._features_per_step, self._state = [], None

    # ---- the tap's callback ------------------------------------------------------------------
    def _on_step(self, event: StepEvent) -> None:
        if event.step_index == 0:
            self.reset()
        # only the step's last position is used (a prefill's produced the first answer token)
        n_keys = event.n_keys[:, :, None, -1:]  # [B, L, 1, 1]
        everywhere = torch.ones((), dtype=torch.bool)
        hn = normalized_entropy(event.stats["shannon"][..., -1:], n_keys, everywhere)  # [B, L, H, 1]
        h2n = normalized_entropy(event.stats["renyi2"][..., -1:], n_keys, everywhere)
        sink = event.stats["sink_mass"][..., -1:].float()
        if not event.generated:  # the prompt: its last position produced answer token 0; its ids
            # tell which answer tokens are novel
            self._begin(hn[..., -1], event.input_ids, event.valid)
            return
        st = self._state
        if st is None:  # a prefill the monitor did not see: nothing to score against
            return
        valid = (event.valid if event.valid is not None else torch.ones(hn.shape[0], 1, dtype=torch.bool,
                                                                          device=hn.device))[:, -1]
        ids = event.input_ids[:, -1] if event.input_ids is not None else None
        if ids is not None and self.eos_ids:
            st["finished"] |= torch.isin(ids, torch.tensor(self.eos_ids, device=ids.device))
        take = valid & ~st["finished"]  # [B]
        self._add(st, take, hn[..., -1].double(), h2n[..., -1].double(), sink[..., -1].double(), event)
        self._features_per_step.append(self._features(st))

    def _begin(self, prompt_last: torch.Tensor, prompt_ids: torch.Tensor | None, prompt_valid: torch.Tensor | None) -> None:
        B, L, H = prompt_last.shape
        if (L, H) != (self.scorer.num_layers, self.scorer.num_heads):
            raise ScorerError(f"the scorer was fitted on {self.scorer.model_name or 'a model'} with "
                              f"{self.scorer.num_layers} layers x {self.scorer.num_heads} heads; this model "
                              f"records {L} layers x {H} heads: calibrate a scorer for it")
        dev = prompt_last.device
        zeros = lambda *s: torch.zeros(s, dtype=torch.float64, device=dev)  # noqa: E731
        self._state = {
            "prompt_last": prompt_last.double(), "finished": torch.zeros(B, dtype=torch.bool, device=dev),
            "sum": [zeros(B, L, H), zeros(B, L, H), zeros(B, L, H)], "count": [zeros(B, L, H) for _ in range(3)],
            "step_sum": zeros(B), "step_max": torch.full((B,), -math.inf, dtype=torch.float64, device=dev),
            "steps": zeros(B), "lp_sum": zeros(B), "lp_min": torch.full((B,), math.inf, dtype=torch.float64, device=dev),
            "lp_first": torch.full((B,), math.nan, dtype=torch.float64, device=dev), "pe_sum": zeros(B),
            "pe_max": torch.full((B,), -math.inf, dtype=torch.float64, device=dev), "known": zeros(B), "length": zeros(B),
            # novel tokens (not in the prompt): their Shannon per head and logit features
            "prompt_ids": prompt_ids, "prompt_valid": prompt_valid if prompt_valid is not None else (
                None if prompt_ids is None else torch.ones_like(prompt_ids, dtype=torch.bool)),
            "n_sum": zeros(B, L, H), "n_count": zeros(B, L, H), "novel": zeros(B), "n_known": zeros(B),
            "n_lp_sum": zeros(B), "n_lp_min": torch.full((B,), math.inf, dtype=torch.float64, device=dev),
            "n_pe_sum": zeros(B),
        }

    @staticmethod
    def _add(st: dict, take: torch.Tensor, hn, h2n, sink, event: StepEvent) -> None:
        for i, x in enumerate((hn, h2n, sink)):  # [B, L, H]
            ok = take[:, None, None] & ~torch.isnan(x)
            st["sum"][i] += torch.where(ok, x, 0.0)
            st["count"][i] += ok.double()
        step_mean = hn.nanmean(dim=(1, 2))  # [B]
        ok = take & ~torch.isnan(step_mean)
        st["step_sum"] += torch.where(ok, step_mean, 0.0)
        st["steps"] += ok.double()
        st["step_max"] = torch.where(ok, torch.maximum(st["step_max"], step_mean), st["step_max"])
        st["length"] += take.double()
        ids = event.input_ids[:, -1] if event.input_ids is not None else None
        if ids is None or st["prompt_ids"] is None:
            novel = torch.zeros_like(take)
        else:
            seen = ((st["prompt_ids"] == ids[:, None]) & st["prompt_valid"]).any(-1)
            novel = take & ~seen & (ids >= 0)
        ok = novel[:, None, None] & ~torch.isnan(hn)
        st["n_sum"] += torch.where(ok, hn, 0.0)
        st["n_count"] += ok.double()
        st["novel"] += novel.double()
        lp = event.token_stats.get("token_logprob")
        pe = event.token_stats.get("predictive_entropy")
        if lp is None or pe is None:
            return
        lp, pe = lp[:, -1].double(), pe[:, -1].double()
        known = take & ~torch.isnan(lp)
        st["lp_first"] = torch.where(known & (st["known"] == 0), lp, st["lp_first"])
        st["known"] += known.double()
        st["lp_sum"] += torch.where(known, lp, 0.0)
        st["pe_sum"] += torch.where(known, pe, 0.0)
        st["lp_min"] = torch.where(known, torch.minimum(st["lp_min"], lp), st["lp_min"])
        st["pe_max"] = torch.where(known, torch.maximum(st["pe_max"], pe), st["pe_max"])
        new = known & novel
        st["n_known"] += new.double()
        st["n_lp_sum"] += torch.where(new, lp, 0.0)
        st["n_pe_sum"] += torch.where(new, pe, 0.0)
        st["n_lp_min"] = torch.where(new, torch.minimum(st["n_lp_min"], lp), st["n_lp_min"])

    def _features(self, st: dict) -> torch.Tensor:
        """`[B, F]` in `feature_names` order, as `answer_features` computes them from a trace."""
        nan = torch.tensor(math.nan, dtype=torch.float64, device=st["length"].device)
        B = st["length"].shape[0]
        heads = [torch.where(c > 0, s / c.clamp(min=1), nan).reshape(B, -1) for s, c in zip(st["sum"], st["count"])]
        heads.append(st["prompt_last"].reshape(B, -1))
        heads.append(torch.where(st["n_count"] > 0, st["n_sum"] / st["n_count"].clamp(min=1), nan).reshape(B, -1))
        has = st["steps"] > 0
        summary = {"max_step_shannon": torch.where(has, st["step_max"], nan),
                   "mean_shannon": torch.where(has, st["step_sum"] / st["steps"].clamp(min=1), nan)}
        k = st["known"]
        some = k > 0
        logits = {"mean_logprob": torch.where(some, st["lp_sum"] / k.clamp(min=1), nan),
                  "min_logprob": torch.where(some, st["lp_min"], nan),
                  "first_logprob": torch.where(some, st["lp_first"], nan),
                  "mean_predictive_entropy": torch.where(some, st["pe_sum"] / k.clamp(min=1), nan),
                  "max_predictive_entropy": torch.where(some, st["pe_max"], nan),
                  "log_length": torch.log1p(st["length"]),
                  "novel_mean_logprob": torch.where(st["n_known"] > 0, st["n_lp_sum"] / st["n_known"].clamp(min=1), nan),
                  "novel_min_logprob": torch.where(st["n_known"] > 0, st["n_lp_min"], nan),
                  "novel_mean_predictive_entropy": torch.where(st["n_known"] > 0, st["n_pe_sum"] / st["n_known"].clamp(min=1), nan),
                  "novel_fraction": torch.where(st["length"] > 0, st["novel"] / st["length"].clamp(min=1), nan)}
        cols = [summary[n] for n in SUMMARY_FEATURES] + [logits[n] for n in LOGIT_FEATURES]
        return torch.cat(heads + [torch.stack(cols, dim=1)], dim=1)  # [B, F] on the device


def confidence_per_token(scorer: ConfidenceScorer, trace) -> torch.Tensor:
    """`[B, T]`: the confidence after each generated position of a recorded trace (NaN-free).

    Replays the trace through `StreamingConfidence` step by step, so a report shows exactly what
    a gate saw during `generate`. T = generated positions; rows are scored as the trace marks
    them valid (finished rows stop counting).
    """
    gen = trace.generated.any(0)  # [N] positions processed while decoding
    if not bool(gen.any()):
        return torch.empty(trace.batch, 0, dtype=torch.float64)
    first = int(gen.to(torch.int8).argmax())
    stream = StreamingConfidence(scorer)
    stats = {name: getattr(trace, name) for name in ("shannon", "renyi2", "sink_mass")}
    token = {k: v for k, v in (("token_logprob", trace.token_logprob), ("predictive_entropy", trace.predictive_entropy))
             if v is not None}

    def event(sl: slice, index: int, generated: bool) -> StepEvent:
        return StepEvent(0, index, generated, {k: v[..., sl] for k, v in stats.items()}, trace.n_keys[..., sl],
                         trace.token_ids[:, sl], list(trace.layers), {k: v[:, sl] for k, v in token.items()},
                         trace.valid[:, sl])

    stream.tap.callback(event(slice(0, first), 0, False))
    for i, n in enumerate(range(first, trace.num_positions), start=1):
        stream.tap.callback(event(slice(n, n + 1), i, True))
    return stream.steps()
