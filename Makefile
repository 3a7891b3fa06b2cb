# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv on first use from python3 (>= 3.11); nothing else is needed
# but git and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/plait demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# pytest-xdist: one worker per CPU, at most 4 (CI's two cores: two workers); every test
# keeps to its own temp dirs, ports and processes, so any two may run side by side.
# (`xdist_group` / `--dist loadgroup` group nothing with pytest 9.2: xdist 3.8 sets a node
# id field pytest no longer reads.) `make unit WORKERS=0` runs the suite in one process.
WORKERS ?= logical
unit: $(STAMP)
	$(BIN)/pytest -q -n $(WORKERS) --maxprocesses 4

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
