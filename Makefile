# The two commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BRIEF  := $(VENV)/bin/brief
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help run test lint fmt bench chat clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# the CPU wheel of torch first, or sentence-transformers pulls the CUDA build
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## load the seeds and run the bot (offers the terminal chat without a token)
	@$(BRIEF) seed
	@$(BRIEF) run || { status=$$?; test $$status -eq 2 || exit $$status; \
		echo "Opening the terminal chat now (Ctrl-D leaves)."; $(BRIEF) chat; }

chat: $(STAMP)  ## talk to the bot in this terminal
	@$(BRIEF) seed
	@$(BRIEF) chat

test: $(STAMP)  ## run the whole test suite
	$(PY) -m pytest

lint: $(STAMP)  ## ruff lint + format check, mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP)  ## format and fix what ruff can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)  ## run the benchmarks and print their tables (see bench/RESULTS.md)
	$(PY) bench/run_all.py

clean:  ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
