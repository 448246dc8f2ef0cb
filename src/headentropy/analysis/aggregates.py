"""Mergeable corpus statistics (DESIGN §14): shards computed anywhere combine exactly.

An `EntropyAggregate` summarises any number of traces of one model without keeping them:

* per (layer, head) — count, mean and M2 (Welford; merged with Chan's formula) of normalised
  Shannon and Rényi-2 entropy and of the sink mass, over usable positions (`_select`), overall
  and for generated positions only;
* per (layer, head) — a fixed-bin histogram of normalised Shannon entropy on [0, 1];
* per layer — the co-moments of the heads' per-token series (Σx, Σxy over positions where every
  head of the layer has a value): the inter-head correlation the pruning score needs, merged
  exactly;
* per layer and position bucket (log-spaced token positions 0, 1, 2-3, 4-7, ...) — count and sum
  of normalised Shannon entropy: the profile along the sequence;
* per layer across texts — count, mean and M2 of each text's mean: the spread of the profile.

All accumulators are float64 (sums of millions of fp32 values stay exact to fp32 round-off), and
`merge` is associative and commutative up to that round-off. `save`/`load` use safetensors +
JSON (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..trace import EntropyTrace
from ._select import normalized, raw

FORMAT = "headentropy.EntropyAggregate/1"
HIST_BINS = 20  # bins of width 0.05 on [0, 1]
POSITION_BUCKETS = 24  # bucket b holds positions [2^(b-1), 2^b): up to 8 M tokens

_F64 = torch.float64


def _zeros(*shape: int) -> torch.Tensor:
    return torch.zeros(shape, dtype=_F64)


@dataclass
class Moments:
    """count, mean, M2 per cell (any shape); Chan's parallel merge."""

    count: torch.Tensor
    mean: torch.Tensor
    m2: torch.Tensor

    @classmethod
    def empty(cls, *shape: int) -> "Moments":
        return cls(_zeros(*shape), _zeros(*shape), _zeros(*shape))

    @classmethod
    def of(cls, x: torch.Tensor, dim: int) -> "Moments":
        """Moments of `x` along `dim`, ignoring NaN."""
        x = x.to(_F64)
        ok = torch.isfinite(x)
        count = ok.sum(dim).to(_F64)
        total = torch.where(ok, x, 0.0).sum(dim)
        mean = torch.where(count > 0, total / count.clamp(min=1), 0.0)
        dev = torch.where(ok, x - mean.unsqueeze(dim), 0.0)
        return cls(count, mean, (dev * dev).sum(dim))

    def merge(self, other: "Moments") -> "Moments":
        n = self.count + other.count
        delta = other.mean - self.mean
        w = torch.where(n > 0, other.count / n.clamp(min=1), 0.0)
        mean = self.mean + delta * w
        m2 = self.m2 + other.m2 + delta * delta * self.count * w
        return Moments(n, mean, m2)

    @property
    def variance(self) -> torch.Tensor:
        """Population variance; NaN where the count is 0."""
        return torch.where(self.count > 0, self.m2 / self.count.clamp(min=1), float("nan"))

    def value(self) -> torch.Tensor:
        """The mean, NaN where the count is 0."""
        return torch.where(self.count > 0, self.mean, float("nan"))


def position_bucket(positions: torch.Tensor) -> torch.Tensor:
    """Log-spaced bucket of token positions: 0 -> 0, 1 -> 1, 2-3 -> 2, 4-7 -> 3, ..."""
    b = torch.floor(torch.log2(positions.to(_F64).clamp(min=1))).long() + 1
    return torch.where(positions > 0, b, 0).clamp(max=POSITION_BUCKETS - 1)


@dataclass
class EntropyAggregate:
    layers: list[int]
    heads: int
    model_name: str = ""
    texts: int = 0  # sequences folded in
    shannon: Moments = None  # [L, H] normalised Shannon over usable positions
    renyi2: Moments = None  # [L, H] normalised Rényi-2
    sink_mass: Moments = None  # [L, H]
    shannon_generated: Moments = None  # [L, H] generated positions only
    histogram: torch.Tensor = None  # [L, H, HIST_BINS] counts of normalised Shannon
    co_count: torch.Tensor = None  # [L] positions where every head of the layer has a value
    co_sum: torch.Tensor = None  # [L, H] Σ x_h over those positions
    co_prod: torch.Tensor = None  # [L, H, H] Σ x_a x_b over those positions
    bucket_count: torch.Tensor = None  # [L, POSITION_BUCKETS]
    bucket_sum: torch.Tensor = None  # [L, POSITION_BUCKETS] Σ per-position mean over heads
    text_means: Moments = None  # [L] over texts: each text's mean normalised Shannon per layer
    extra: dict = field(default_factory=dict)  # JSON-able counters (e.g. skipped lines)

    def __post_init__(self) -> None:
        L, H = len(self.layers), self.heads
        for name in ("shannon", "renyi2", "sink_mass", "shannon_generated"):
            if getattr(self, name) is None:
                setattr(self, name, Moments.empty(L, H))
        if self.text_means is None:
            self.text_means = Moments.empty(L)
        defaults = {"histogram": (L, H, HIST_BINS), "co_count": (L,), "co_sum": (L, H), "co_prod": (L, H, H),
                    "bucket_count": (L, POSITION_BUCKETS), "bucket_sum": (L, POSITION_BUCKETS)}
        for name, shape in defaults.items():
            if getattr(self, name) is None:
                setattr(self, name, _zeros(*shape))

    # ---- building --------------------------------------------------------------------------
    @classmethod
    def from_trace(cls, trace: EntropyTrace) -> "EntropyAggregate":
        """The aggregate of one trace (every sequence of its batch)."""
        agg = cls(list(trace.layers), trace.num_heads, trace.model_name)
        h = normalized(trace, "shannon", gated=False).to(_F64)  # [B, L, H, N], NaN where unusable
        B, L, H, N = h.shape
        per_cell = h.permute(1, 2, 0, 3).reshape(L, H, B * N)  # [L, H, B·N]
        agg.shannon = Moments.of(per_cell, dim=2)
        if trace.renyi2 is not None:
            agg.renyi2 = Moments.of(normalized(trace, "renyi2", gated=False).to(_F64).permute(1, 2, 0, 3).reshape(L, H, B * N), 2)
        if trace.sink_mass is not None:
            agg.sink_mass = Moments.of(raw(trace, "sink_mass", gated=False).to(_F64).permute(1, 2, 0, 3).reshape(L, H, B * N), 2)
        gen = trace.generated[:, None, None, :]  # [B, 1, 1, N]
        agg.shannon_generated = Moments.of(torch.where(gen, h, float("nan")).permute(1, 2, 0, 3).reshape(L, H, B * N), 2)

        ok = torch.isfinite(per_cell)  # [L, H, T]
        bins = (per_cell.clamp(0, 1) * HIST_BINS).floor().clamp(max=HIST_BINS - 1).long()  # [L, H, T]
        agg.histogram = torch.zeros(L, H, HIST_BINS, dtype=_F64).scatter_add_(
            2, torch.where(ok, bins, 0), ok.to(_F64))

        all_heads = ok.all(dim=1)  # [L, T]: positions where every head of the layer has a value
        x = torch.where(all_heads[:, None, :], per_cell, 0.0)  # [L, H, T]
        agg.co_count = all_heads.sum(-1).to(_F64)
        agg.co_sum = x.sum(-1)
        agg.co_prod = x @ x.transpose(1, 2)  # [L, H, H]

        head_mean = h.nanmean(dim=2)  # [B, L, N] mean over heads (NaN where unusable)
        position = (trace.valid.cumsum(-1) - 1).clamp(min=0)  # [B, N] index in the text (left padding skipped)
        bucket = position_bucket(position)[:, None, :].expand(B, L, N)  # [B, L, N]
        has = torch.isfinite(head_mean)
        agg.bucket_count = torch.zeros(L, POSITION_BUCKETS, dtype=_F64).scatter_add_(
            1, bucket.transpose(0, 1).reshape(L, -1), has.to(_F64).transpose(0, 1).reshape(L, -1))
        agg.bucket_sum = torch.zeros(L, POSITION_BUCKETS, dtype=_F64).scatter_add_(
            1, bucket.transpose(0, 1).reshape(L, -1), torch.where(has, head_mean, 0.0).transpose(0, 1).reshape(L, -1))

        text_layer = h.flatten(2).nanmean(dim=2)  # [B, L]: each text's mean per layer
        agg.text_means = Moments.of(text_layer.transpose(0, 1), dim=1)
        agg.texts = B
        return agg

    # ---- merging ---------------------------------------------------------------------------
    def merge(self, other: "EntropyAggregate") -> "EntropyAggregate":
        """The aggregate of both (a new object); raises if they describe different models."""
        if other.layers != self.layers or other.heads != self.heads:
            raise ValueError(f"cannot merge aggregates of different shapes: layers {self.layers} x {self.heads} heads "
                             f"vs {other.layers} x {other.heads}")
        extra = dict(self.extra)
        for k, v in other.extra.items():
            extra[k] = extra.get(k, 0) + v if isinstance(v, (int, float)) else v
        return EntropyAggregate(
            list(self.layers), self.heads, self.model_name or other.model_name, self.texts + other.texts,
            self.shannon.merge(other.shannon), self.renyi2.merge(other.renyi2), self.sink_mass.merge(other.sink_mass),
            self.shannon_generated.merge(other.shannon_generated), self.histogram + other.histogram,
            self.co_count + other.co_count, self.co_sum + other.co_sum, self.co_prod + other.co_prod,
            self.bucket_count + other.bucket_count, self.bucket_sum + other.bucket_sum,
            self.text_means.merge(other.text_means), extra)

    # ---- derived statistics ----------------------------------------------------------------
    def layer_profile(self) -> torch.Tensor:
        """Mean normalised Shannon per layer over all usable positions `[L]` (NaN: no data)."""
        n = self.shannon.count.sum(1)
        return torch.where(n > 0, (self.shannon.mean * self.shannon.count).sum(1) / n.clamp(min=1), float("nan"))

    def inter_head_variance(self) -> torch.Tensor:
        """Variance over heads of the per-head means `[L]`."""
        return self.shannon.value().var(dim=1, unbiased=False)

    def head_correlation(self) -> torch.Tensor:
        """Pearson correlation of the heads' per-token series, per layer `[L, H, H]`."""
        n = self.co_count[:, None, None].clamp(min=1)
        mean = self.co_sum / self.co_count[:, None].clamp(min=1)  # [L, H]
        cov = self.co_prod / n - mean[:, :, None] * mean[:, None, :]
        std = torch.sqrt(torch.diagonal(cov, dim1=1, dim2=2).clamp(min=0))  # [L, H]
        denom = std[:, :, None] * std[:, None, :]
        ok = (denom > 0) & (self.co_count[:, None, None] >= 3)
        return torch.where(ok, cov / torch.where(ok, denom, 1.0), float("nan"))

    def position_profile(self) -> torch.Tensor:
        """Mean normalised Shannon per layer and position bucket `[L, POSITION_BUCKETS]`."""
        return torch.where(self.bucket_count > 0, self.bucket_sum / self.bucket_count.clamp(min=1), float("nan"))

    # ---- the analyses of a single trace, over the corpus ------------------------------------
    def data(self):
        """`DataSufficiency` of the corpus: positions usable in every layer (the least of the layers)."""
        from ._select import DataSufficiency
        from .thresholds import MIN_KEYS, MIN_POSITIONS

        n = int(self.co_count.min()) if self.co_count.numel() else 0
        enough = n >= MIN_POSITIONS
        reason = "" if enough else (f"not enough tokens to analyse: {n} position(s) see at least {MIN_KEYS} keys "
                                    f"in every layer, {MIN_POSITIONS} are needed")
        return DataSufficiency(n, MIN_POSITIONS, MIN_KEYS, enough, reason)

    def profile(self):
        """`LayerProfile` over the corpus (raw-nats means are not kept: NaN)."""
        from .profile import LayerProfile, classify_shape

        shannon = self.layer_profile().float()
        n = self.renyi2.count.sum(1)
        renyi2 = torch.where(n > 0, (self.renyi2.mean * self.renyi2.count).sum(1) / n.clamp(min=1), float("nan")).float()
        shape, evidence = classify_shape(shannon)
        if not self.data().enough:
            shape, evidence = "insufficient_data", {"reason": self.data().reason}
        nan = torch.full_like(shannon, float("nan"))
        return LayerProfile(list(self.layers), shannon, renyi2, nan, nan, shape, evidence)

    def head_stats(self, top_k: int = 20):
        """`HeadStats` over the corpus: per-head means, variance, correlations, pruning candidates."""
        from .heads import head_stats_from

        return head_stats_from(list(self.layers), self.shannon.value().float(), self.sink_mass.value().float(),
                               self.head_correlation().float(), top_k)

    def diagnose(self) -> list:
        """The findings the registry's detectors can make without per-token data."""
        from .detectors import Analyses
        from .diagnose import run_detectors

        return run_detectors(Analyses(None, self.profile(), self.head_stats(), None, self.data()))

    # ---- files -----------------------------------------------------------------------------
    def _tensors(self) -> dict[str, torch.Tensor]:
        out = {}
        for name in ("shannon", "renyi2", "sink_mass", "shannon_generated", "text_means"):
            m = getattr(self, name)
            out.update({f"{name}.count": m.count, f"{name}.mean": m.mean, f"{name}.m2": m.m2})
        for name in ("histogram", "co_count", "co_sum", "co_prod", "bucket_count", "bucket_sum"):
            out[name] = getattr(self, name)
        return {k: v.contiguous() for k, v in out.items()}

    def to_bytes(self) -> bytes:
        from ..files import safetensors_bytes

        meta = {"format": FORMAT, "layers": self.layers, "heads": self.heads, "model_name": self.model_name,
                "texts": self.texts, "extra": self.extra}
        return safetensors_bytes(self._tensors(), meta)

    def save(self, path: str | Path) -> None:
        from ..files import write_files_atomically

        path = Path(path)
        write_files_atomically(path.parent, {path.name: self.to_bytes()})

    @classmethod
    def load(cls, path: str | Path) -> "EntropyAggregate":
        """Read a file written by `save()`; ValueError naming the file for anything else."""
        from ..files import load_safetensors

        def build(meta: dict, t: dict) -> EntropyAggregate:
            moments = {name: Moments(t[f"{name}.count"], t[f"{name}.mean"], t[f"{name}.m2"])
                       for name in ("shannon", "renyi2", "sink_mass", "shannon_generated", "text_means")}
            return cls([int(x) for x in meta["layers"]], int(meta["heads"]), str(meta.get("model_name", "")),
                       int(meta.get("texts", 0)), moments["shannon"], moments["renyi2"], moments["sink_mass"],
                       moments["shannon_generated"], t["histogram"], t["co_count"], t["co_sum"], t["co_prod"],
                       t["bucket_count"], t["bucket_sum"], moments["text_means"], dict(meta.get("extra", {})))

        return load_safetensors(path, FORMAT, "aggregate", build)

    def __repr__(self) -> str:
        return (f"EntropyAggregate(model_name={self.model_name!r}, layers={len(self.layers)}, heads={self.heads}, "
                f"texts={self.texts}, positions={int(self.co_count.max()) if self.co_count.numel() else 0})")


