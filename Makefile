# The two commands of the README. `make demo` and `make test` each set up the venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1

.PHONY: setup demo test benchmarks clean fuzz kill-matrix

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/gristmill demo --out demo-out

test: setup
	$(BIN)/pytest -q

# The long fuzzing profile and every kill point on its own (minutes each; tests run short versions).
fuzz: setup
	$(BIN)/python benchmarks/fuzz.py

kill-matrix: setup
	$(BIN)/python benchmarks/kill_matrix.py

clean:
	rm -rf demo-out .pytest_cache
