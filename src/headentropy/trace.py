"""`EntropyTrace`: per-token attention statistics of one call, and its file format.

The one data type every part of the project shares: taps assemble it (`capture/`), the analyses
read it (`analysis/`), the report renders it (`report/`). It imports neither `transformers` nor
the kernels, so it can be loaded anywhere a trace file is.

Normalised entropy `H / log n` (docs/design.md §1) is defined once, here (`normalized_entropy`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

STATS = ("shannon", "renyi2", "sink_mass")
# Per-token statistics of the model's logits (not of attention), `[B, N]` fp32, aligned with the
# positions: the log-probability of the token at position t and the entropy (nats) of the
# next-token distribution it was drawn from (the logits at t - 1). NaN where that distribution
# was not computed (the first position of a call; a prompt prefilled with `logits_to_keep=1`).
TOKEN_STATS = ("token_logprob", "predictive_entropy")
FORMAT = "headentropy.EntropyTrace/1"
_REQUIRED = ("valid", "generated", "token_ids", "n_keys")


def normalized_entropy(h: torch.Tensor, n_keys: torch.Tensor, usable: torch.Tensor) -> torch.Tensor:
    """`H / log n` where `usable`, NaN elsewhere (rows with n ≤ 1 have no normalised entropy).

    h: `[..., N]` nats; n_keys and usable broadcast to it.
    """
    n = n_keys.to(torch.float32)
    ok = usable & (n > 1)
    return torch.where(ok, h.to(torch.float32) / torch.log(n.clamp(min=2)), torch.full_like(h, float("nan"), dtype=torch.float32))


@dataclass
class EntropyTrace:
    """Per-token attention statistics of one forward or generate call.

    Statistics are fp32 CPU tensors `[batch, layers, heads, positions]` in nats (None when not
    requested); `layers` names the model layer of each slot of the `layers` axis. Positions are
    the query tokens in the order they were processed (prompt, then decode steps).
    """

    shannon: torch.Tensor | None  # [B, L, H, N] fp32
    renyi2: torch.Tensor | None  # [B, L, H, N] fp32
    sink_mass: torch.Tensor | None  # [B, L, H, N] fp32
    valid: torch.Tensor  # [B, N] bool: False for padding
    generated: torch.Tensor  # [B, N] bool: True for positions processed during decoding
    token_ids: torch.Tensor  # [B, N] int64, -1 where the input was embeddings
    n_keys: torch.Tensor  # [B, L, N] int32: keys visible to each query (sliding layers differ)
    layers: list[int] = field(default_factory=list)
    model_name: str = ""
    token_logprob: torch.Tensor | None = None  # [B, N] fp32 (TOKEN_STATS), None when the model gave no logits
    predictive_entropy: torch.Tensor | None = None  # [B, N] fp32 nats

    def __repr__(self) -> str:
        recorded = [n for n in STATS if getattr(self, n) is not None]
        return (
            f"EntropyTrace(model_name={self.model_name!r}, batch={self.batch}, layers={len(self.layers)}, "
            f"heads={self.num_heads}, positions={self.num_positions}, "
            f"generated={int(self.generated.any(0).sum())}, stats={recorded})"
        )

    @property
    def batch(self) -> int:
        return self.valid.shape[0]

    @property
    def num_positions(self) -> int:
        return self.valid.shape[1]

    @property
    def num_heads(self) -> int:
        recorded = [getattr(self, n) for n in STATS if getattr(self, n) is not None]
        return recorded[0].shape[2] if recorded else 0

    def stat(self, name: str) -> torch.Tensor:
        """One statistic by name; raises if it was not recorded."""
        if name not in STATS:
            raise ValueError(f"unknown statistic {name!r}; expected one of {STATS}")
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"statistic {name!r} was not recorded (monitor(stats=...))")
        return value

    def normalized(self, name: str = "shannon") -> torch.Tensor:
        """`H / log n_keys` in [0, 1], `[B, L, H, N]`; NaN for padding and rows with n_keys <= 1."""
        usable = self.valid[:, None, None, :]  # [B, 1, 1, N]
        return normalized_entropy(self.stat(name), self.n_keys[:, :, None, :], usable)

    # --- analyses (headentropy.analysis; imported lazily to keep this module light) -------------

    def layer_profile(self):
        """Per-layer mean entropy and the profile's shape (`analysis.LayerProfile`)."""
        from .analysis import layer_profile

        return layer_profile(self)

    def head_stats(self, top_k: int = 20):
        """Per-head means, inter-head variance, redundant pairs, pruning candidates."""
        from .analysis import head_stats

        return head_stats(self, top_k=top_k)

    def token_stats(self, tokenizer=None):
        """Prompt vs generated entropy and spikes; `tokenizer` decodes the spike tokens."""
        from .analysis import token_stats

        return token_stats(self, tokenizer)

    def select(self, rows) -> "EntropyTrace":
        """The trace of some batch rows (an index, a list of indices or a bool mask `[B]`)."""
        idx = torch.as_tensor([rows] if isinstance(rows, int) else rows)
        if idx.dtype == torch.bool:
            idx = idx.nonzero().flatten()
        pick = lambda x: None if x is None else x[idx]  # noqa: E731
        return EntropyTrace(
            **{name: pick(getattr(self, name)) for name in STATS + TOKEN_STATS},
            valid=self.valid[idx], generated=self.generated[idx], token_ids=self.token_ids[idx],
            n_keys=self.n_keys[idx], layers=list(self.layers), model_name=self.model_name)

    def non_finite_count(self) -> int:
        """Number of recorded statistics that are NaN/inf at valid positions (e.g. NaN activations)."""
        total = 0
        for name in STATS:
            value = getattr(self, name)
            if value is not None:
                bad = ~torch.isfinite(value) & self.valid[:, None, None, :]
                total += int(bad.sum())
        return total

    # --- file format ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The safetensors file content; metadata (layers, model name) is JSON in its header."""
        from .files import safetensors_bytes

        tensors = {
            "valid": self.valid.to(torch.uint8),
            "generated": self.generated.to(torch.uint8),
            "token_ids": self.token_ids.to(torch.int64),
            "n_keys": self.n_keys.to(torch.int32),
        }
        for name in STATS + TOKEN_STATS:
            value = getattr(self, name)
            if value is not None:
                tensors[name] = value.to(torch.float32)
        meta = {"format": FORMAT, "layers": list(self.layers), "model_name": self.model_name}
        return safetensors_bytes({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, meta)

    def save(self, path: str | Path) -> None:
        """Write one safetensors file, atomically (a temporary file in the same folder, renamed)."""
        from .files import write_files_atomically

        path = Path(path)
        write_files_atomically(path.parent, {path.name: self.to_bytes()})

    @classmethod
    def load(cls, path: str | Path) -> "EntropyTrace":
        """Read a file written by `save()` (no pickle involved).

        Raises `ValueError("not a (complete) headentropy trace: ...")` for anything else: a
        folder, a truncated or foreign file, missing tensors.
        """
        from .files import load_safetensors

        def build(meta: dict, tensors: dict) -> EntropyTrace:
            missing = [k for k in _REQUIRED if k not in tensors]
            if missing or not any(s in tensors for s in STATS):
                raise ValueError(f"missing tensors {missing or list(STATS)}")
            return cls(
                shannon=tensors.get("shannon"),
                renyi2=tensors.get("renyi2"),
                sink_mass=tensors.get("sink_mass"),
                valid=tensors["valid"].bool(),
                generated=tensors["generated"].bool(),
                token_ids=tensors["token_ids"],
                n_keys=tensors["n_keys"],
                layers=[int(x) for x in meta["layers"]],
                model_name=str(meta.get("model_name", "")),
                token_logprob=tensors.get("token_logprob"),
                predictive_entropy=tensors.get("predictive_entropy"),
            )

        trace = load_safetensors(path, FORMAT, "trace", build)
        _check_shapes(trace, path)
        return trace


def _check_shapes(trace: EntropyTrace, path) -> None:
    B, N = trace.valid.shape
    L = len(trace.layers)
    expected = {"generated": (B, N), "token_ids": (B, N), "n_keys": (B, L, N)}
    for name in STATS:
        value = getattr(trace, name)
        if value is not None:
            expected[name] = (B, L, value.shape[2] if value.dim() == 4 else -1, N)
    for name in TOKEN_STATS:
        if getattr(trace, name) is not None:
            expected[name] = (B, N)
    for name, shape in expected.items():
        if tuple(getattr(trace, name).shape) != shape:
            raise ValueError(f"{os.fspath(path)} is not a (complete) headentropy trace: "
                             f"{name} has shape {tuple(getattr(trace, name).shape)}, expected {shape}")
