"""Gates that act on the confidence of an answer while generating (docs/design.md §13).

    scorer = he.ConfidenceScorer.load("smollm2")
    gate = he.ConfidenceGate(scorer, threshold=0.5, policy="abstain")
    result = he.generate(model, tokenizer, "Who wrote Moby-Dick?", gate=gate)
    result.text, result.confidence, result.action

An answer is *accepted* when its confidence is >= `threshold` (scores lie in [1e-6, 1 - 1e-6], so
threshold 0 never intervenes and threshold 1 always does). Below it, the policy acts:

* `"abstain"`: the answer comes back flagged and its text replaced by `refusal` (the model's
  answer stays in `result.attempts`);
* `"resample"`: rejection sampling: up to `n_samples` samples at `temperature`, stopping at the
  first accepted one; none accepted: the most confident attempt (or abstain, `fallback="abstain"`);
* `"retrieve"`: `retriever(question, partial_answer) -> list[str]` passages are put before the
  question and the answer regenerated (greedy) with them; that answer is returned, with its own
  confidence (`accepted` says whether it met the threshold).

Every attempt is one `model.generate` under `he.monitor` with a `StreamingConfidence` tap: the
confidence comes from that same pass (no second forward), and per-step confidences are kept.
Thresholds belong to development data (see validation/validate_confidence.py), never test data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .qa import chat_prompt
from .scorer import ConfidenceScorer
from .streaming import StreamingConfidence

POLICIES = ("abstain", "resample", "retrieve")
REFUSAL = "I am not sure."


@dataclass
class Attempt:
    text: str
    confidence: float
    step_confidence: list[float]  # after each decode step
    prompt: str
    sampled: bool  # False: greedy
    trace: object | None = None  # its EntropyTrace (one row) when generate(keep_traces=True)


@dataclass
class GatedAnswer:
    question: str
    text: str  # what the caller should show (the refusal text when abstaining)
    confidence: float  # of the answer returned (of the best attempt when abstaining)
    action: str  # "accepted" | "abstained" | "resampled" | "retrieved" | "none" (no gate)
    accepted: bool  # whether the returned answer met the threshold
    attempts: list[Attempt] = field(default_factory=list)
    passages: list[str] = field(default_factory=list)

    @property
    def generations(self) -> int:
        return len(self.attempts)

    @property
    def returned(self) -> Attempt:
        """The attempt whose answer was returned (the model's first answer when abstaining)."""
        return next((a for a in reversed(self.attempts) if a.text == self.text), self.attempts[0])


class ConfidenceGate:
    def __init__(self, scorer: ConfidenceScorer, threshold: float = 0.5, policy: str = "abstain", *,
                 refusal: str = REFUSAL, n_samples: int = 4, temperature: float = 0.7, fallback: str = "best",
                 retriever: Callable[[str, str], Sequence[str]] | None = None):
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")
        if policy == "resample" and (int(n_samples) < 1 or float(temperature) <= 0):
            raise ValueError("resample needs n_samples >= 1 and temperature > 0")
        if fallback not in ("best", "abstain"):
            raise ValueError(f"fallback must be 'best' or 'abstain', got {fallback!r}")
        if policy == "retrieve" and retriever is None:
            raise ValueError("policy='retrieve' needs a retriever(question, partial_answer) -> list[str], "
                             "e.g. he.confidence.Retriever.from_folder(DIR)")
        self.scorer, self.threshold, self.policy = scorer, float(threshold), policy
        self.refusal, self.n_samples, self.temperature = refusal, int(n_samples), float(temperature)
        self.fallback, self.retriever = fallback, retriever

    def accepts(self, confidence: float) -> bool:
        return confidence >= self.threshold


def _eos_ids(model, tokenizer) -> list[int]:
    """The ids generate() stops on (the model's generation config; the tokenizer's EOS otherwise)."""
    from ..hf.monitor import _eos_ids as generate_eos_ids

    return generate_eos_ids({}, getattr(model, "generation_config", None)) or (
        [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)])


def _attempt(model, tokenizer, scorer, prompts: list[str], *, max_new_tokens: int, sample: bool,
             temperature: float = 1.0, seed: int | None = None, extra: dict | None = None,
             keep_traces: bool = False) -> list[Attempt]:
    """One batched `generate` under the monitor: texts and confidences from the same pass."""
    from ..capture import TraceTap
    from ..hf.monitor import monitor

    stream = StreamingConfidence(scorer, eos_ids=_eos_ids(model, tokenizer))
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)
    kwargs.update(do_sample=True, temperature=temperature, top_k=0) if sample else kwargs.update(do_sample=False)
    kwargs.update(extra or {})
    if seed is not None:
        torch.manual_seed(seed)
    taps = [stream.tap] + ([TraceTap()] if keep_traces else [])
    with monitor(model, taps=taps) as mon, torch.no_grad():
        out = model.generate(**enc, **kwargs)
    trace = mon.trace if keep_traces else None
    texts = tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    steps = stream.steps()  # [B, S]
    final = steps[:, -1] if steps.numel() else torch.full((len(prompts),), float("nan"))
    return [Attempt(t.strip(), float(final[i]), steps[i].tolist(), prompts[i], sample,
                    trace.select(i) if trace is not None else None) for i, t in enumerate(texts)]


def _with_passages(question: str, passages: Sequence[str]) -> str:
    context = "\n".join(f"- {p.strip()}" for p in passages)
    return f"Use these notes if they help.\n{context}\n\nQuestion: {question}"


def generate(model, tokenizer, prompt: str | Sequence[str], *, gate: ConfidenceGate | None = None,
             scorer: ConfidenceScorer | None = None, max_new_tokens: int = 32, chat: bool = True,
             seed: int = 0, generate_kwargs: dict | None = None, keep_traces: bool = False) -> list[GatedAnswer]:
    """Answer each prompt (greedy), score it from the same pass and let `gate` act on it.

    `chat`: put the prompt in the model's chat template as the project's QA prompts are (the
    shipped scorer was calibrated on those). Without a gate, pass `scorer` to get confidences.
    `generate_kwargs` go to every `model.generate` call (e.g. `repetition_penalty`);
    `keep_traces=True` keeps each attempt's `EntropyTrace` (`attempt.trace`, for a report).
    Returns one `GatedAnswer` per prompt.
    """
    questions = [prompt] if isinstance(prompt, str) else list(prompt)
    if not questions:
        raise ValueError("no prompt given")
    scorer = gate.scorer if gate is not None else scorer
    if scorer is None:
        raise ValueError("generate() needs a gate=he.ConfidenceGate(...) or a scorer=he.ConfidenceScorer")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    render = (lambda q: chat_prompt(tokenizer, q)) if chat else (lambda q: q)
    first = _attempt(model, tokenizer, scorer, [render(q) for q in questions], max_new_tokens=max_new_tokens,
                     sample=False, extra=generate_kwargs, keep_traces=keep_traces)
    results = []
    for q, a in zip(questions, first):
        accepted = gate is None or gate.accepts(a.confidence)
        results.append(GatedAnswer(q, a.text, a.confidence, "none" if gate is None else "accepted", accepted, [a]))
    if gate is None:
        return results
    pending = [r for r in results if not r.accepted]
    if pending:
        _act(gate, model, tokenizer, pending, render, max_new_tokens, seed, dict(extra=generate_kwargs, keep_traces=keep_traces))
    return results


def _act(gate: ConfidenceGate, model, tokenizer, pending: list[GatedAnswer], render, max_new_tokens: int,
         seed: int, options: dict) -> None:
    """The gate's policy on the answers below the threshold (batched across them)."""
    if gate.policy == "abstain":
        for r in pending:
            r.text, r.action = gate.refusal, "abstained"
        return
    if gate.policy == "retrieve":
        for r in pending:
            r.action = "retrieved"
            r.passages = [str(p) for p in gate.retriever(r.question, r.attempts[0].text)]
        again = _attempt(model, tokenizer, gate.scorer, [render(_with_passages(r.question, r.passages)) for r in pending],
                         max_new_tokens=max_new_tokens, sample=False, **options)
        for r, a in zip(pending, again):
            r.attempts.append(a)  # the answer with the passages is returned, accepted or not
            r.text, r.confidence, r.accepted = a.text, a.confidence, gate.accepts(a.confidence)
        return
    # resample: round i draws one sample for every answer still without an accepted one
    for r in pending:
        r.action = "resampled"
    waiting = list(pending)
    for i in range(gate.n_samples):
        if not waiting:
            break
        samples = _attempt(model, tokenizer, gate.scorer, [render(r.question) for r in waiting],
                           max_new_tokens=max_new_tokens, sample=True, temperature=gate.temperature,
                           seed=seed + i, **options)
        for r, a in zip(waiting, samples):
            r.attempts.append(a)
            if gate.accepts(a.confidence):  # rejection sampling: the first accepted sample
                r.text, r.confidence, r.accepted = a.text, a.confidence, True
        waiting = [r for r in waiting if not r.accepted]
    for r in waiting:
        best = max(r.attempts, key=lambda a: a.confidence)
        r.confidence = best.confidence
        r.text = gate.refusal if gate.fallback == "abstain" else best.text
