# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs only when pyproject.toml changed (stamp files).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench run exchange clean

# Installs go through uv when it is on the PATH or can be put into the venv (several times faster than
# pip on a fresh machine: ~5 s against ~22 s here); otherwise through pip. Only Python and make are needed.
define install
	@if command -v uv >/dev/null 2>&1; then uv pip install --quiet --python $(BIN)/python $(1); \
	elif [ -x $(BIN)/uv ]; then $(BIN)/uv pip install --quiet --python $(BIN)/python $(1); \
	else $(BIN)/python -m pip install --quiet $(1); fi
endef

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@command -v uv >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet uv 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(call install,-e .)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(call install,-e '.[dev]')
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/polymm-tui --demo

test: $(VENV)/.installed-dev
	$(BIN)/ruff check polymm polymm_standin tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check polymm polymm_standin tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/book_bench.py
	$(BIN)/python bench/order_bench.py
	$(BIN)/python bench/feed_bench.py
	$(BIN)/python bench/quote_bench.py
	$(BIN)/python bench/compare_models.py --quiet
	$(BIN)/python bench/as_paper.py
	$(BIN)/python bench/sweep_bench.py
	$(BIN)/python bench/fill_gap_bench.py --seeds 40 --no-ablate --workers 2
	$(BIN)/python bench/strategy_bench.py --seeds 30
	$(BIN)/python bench/replay_bench.py
	$(BIN)/python bench/tui_bench.py
	$(BIN)/python bench/scale_bench.py
	$(BIN)/python bench/chaos_bench.py --minutes 5 --seed 1

run: $(VENV)/.installed
	$(BIN)/polymm run --demo

exchange: $(VENV)/.installed
	$(BIN)/polymm exchange

clean:
	rm -rf $(VENV) build dist .pytest_cache
