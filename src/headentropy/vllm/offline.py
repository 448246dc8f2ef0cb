"""`headentropy report --engine vllm`: the texts run through vLLM (offline `LLM`, our backend).

    trace, tokenizer, settings = run_texts("smollm2", texts, generate=32)
    report = build_report(trace, tokenizer, settings=settings)     # as the HF path does

Same inputs as the HF path (`report.run.run_texts`): the same tokenizer, chat template and
context check, greedy generation; the statistics come from the engine (`hv.collect`), one
request per text, stacked into one trace. Differences: the token log-probability and predictive
entropy are known for the generated positions only (vLLM computes logits only where it samples;
the HF path has them for the prompt too); `--generate 0` runs one decode step that is not
recorded (vLLM always samples at least one token); the engine is fp32 with eager execution.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os

from ..report.run import InputError, _fit_to_context, encode
from ..trace import EntropyTrace

NOT_INSTALLED = ("--engine vllm needs vLLM, which is not installed in this environment: install "
                 "'headentropy[vllm]' into an environment of its own (README: vLLM), or use --engine hf")


def available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def resolve_model(name: str) -> tuple[str, str]:
    """(the folder or hub id vLLM loads, the trace's model name)."""
    if name == "smollm2":
        from ..hf.models import _build_smollm2_cache, _smollm2_cache_path, smollm2_gguf

        gguf = smollm2_gguf()
        target = _smollm2_cache_path(gguf)
        if not (target / "config.json").exists():
            _build_smollm2_cache(gguf, target)
        return str(target), "SmolLM2-135M-Instruct"
    if name == "minilm":
        raise InputError("--engine vllm runs causal language models; minilm is an encoder (use --engine hf)")
    return name, name


def _context_limit(folder: str) -> int | None:
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(folder)
    cfg = cfg.get_text_config() if hasattr(cfg, "get_text_config") else cfg
    value = getattr(cfg, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def run_texts(model: str, texts: list[str], *, generate: int = 0, chat: bool | None = None,
              max_length: int | None = None, backend: str = "auto", quiet: bool = False,
              engine_kwargs: dict | None = None) -> tuple[EntropyTrace, object, dict]:
    """Generate greedily in a vLLM engine with headentropy's backend; (stacked trace, tokenizer, settings)."""
    if not available():
        raise InputError(NOT_INSTALLED)
    if generate < 0:
        raise InputError("--generate must be >= 0")
    if not texts or any(not t.strip() for t in texts):
        raise InputError("every text must be non-empty")
    path, model_name = resolve_model(model)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        limit = _context_limit(path)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load model {model!r} for vLLM: {str(e).strip().splitlines()[0]}") from None
    if chat is None:
        chat = bool(generate) and bool(getattr(tokenizer, "chat_template", None))
    encoded = [_fit_to_context(encode(tokenizer, text, chat), limit, generate, max_length,
                               f"text {i + 1}" if len(texts) > 1 else "the input", model_name)[0].tolist()
               for i, text in enumerate(texts)]

    env = {}
    if backend != "auto":
        env["HEADENTROPY_VLLM_KERNEL"] = backend  # read by the backend in the engine process
    if quiet and "VLLM_LOGGING_LEVEL" not in os.environ:
        env["VLLM_LOGGING_LEVEL"] = "WARNING"
    with _environ(env):
        return _run(path, model_name, model, encoded, tokenizer, generate=generate, chat=chat,
                    max_length=max_length, backend=backend, quiet=quiet, engine_kwargs=engine_kwargs,
                    n_texts=len(texts))


@contextlib.contextmanager
def _environ(values: dict):
    """Set environment variables for the engine processes started inside, then restore them."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(path, model_name, model, encoded, tokenizer, *, generate, chat, max_length, backend, quiet,
         engine_kwargs, n_texts):
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    from . import collect, engine_kwargs as backend_kwargs
    from ..report.build import stack_traces

    steps = max(generate, 1)
    kwargs = dict(dtype="float32", enforce_eager=True, seed=0,
                  max_model_len=max(len(i) for i in encoded) + steps + 1)
    kwargs.update(engine_kwargs or {})
    kwargs.update(backend_kwargs())
    llm = LLM(model=path, **kwargs)
    try:
        params = SamplingParams(max_tokens=steps, temperature=0.0)
        outputs = llm.generate([TokensPrompt(prompt_token_ids=i) for i in encoded], params, use_tqdm=not quiet)
        traces = collect(llm, outputs, model_name=model_name)
    finally:
        try:
            llm.llm_engine.engine_core.shutdown()
        finally:
            del llm
            gc.collect()
    missing = [i + 1 for i, o in enumerate(outputs) if o.request_id not in traces]
    if missing:
        raise InputError(f"the vLLM engine recorded no statistics for text(s) {missing} (see its log)")
    ordered = [traces[o.request_id] for o in outputs]
    if generate == 0:  # the one sampled token was never fed back: positions are the prompt
        for t in ordered:
            t.generated[:] = False
    settings = {
        "model": model,
        "engine": "vllm",
        "backend": backend,
        "device": "cpu" if _is_cpu() else "vllm",
        "generate": generate,
        "chat_template": chat,
        "texts": n_texts,
    }
    if max_length is not None:
        settings["max_length"] = max_length
    return stack_traces(ordered), tokenizer, settings


def _is_cpu() -> bool:
    try:
        from vllm.platforms import current_platform

        return current_platform.is_cpu()
    except Exception:  # noqa: BLE001
        return False


__all__ = ["NOT_INSTALLED", "available", "resolve_model", "run_texts"]
