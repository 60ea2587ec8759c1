# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates (or reuses) .venv and installs what it needs; a stamp file per
# extra keeps a second run from reinstalling unless pyproject.toml changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest workers: the test machines have 2 cores
JOBS ?= 2

.PHONY: demo test test-book reproduce reproduce-quick bench install clean-venv

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.stamp-base: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.stamp-test: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

$(VENV)/.stamp-bench: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[bench,test]'
	@touch $@

install: $(VENV)/.stamp-base

demo: $(VENV)/.stamp-base
	$(VENV)/bin/zerokara train binary-addition

# lint first (fast): code that fails ruff or mypy fails the run before the tests start
test: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check src
	$(VENV)/bin/ruff format --check src
	$(VENV)/bin/mypy src
	$(PY) -m pytest -q -n $(JOBS)

# the book-settings runs (SimpleConvNet and DeepConvNet on all of MNIST: about 25 minutes)
test-book: $(VENV)/.stamp-test
	ZEROKARA_BOOK_RUNS=1 $(PY) -m pytest -q -m book

# README's results table: every row over 3 seeds (hours), or shortened and checked
# against bounds the full runs meet too (minutes; CI runs it)
reproduce: $(VENV)/.stamp-test
	$(VENV)/bin/zerokara reproduce all

reproduce-quick: $(VENV)/.stamp-test
	$(VENV)/bin/zerokara reproduce all --quick --check

bench: $(VENV)/.stamp-bench
	$(PY) -m bench all

clean-venv:
	rm -rf $(VENV)
