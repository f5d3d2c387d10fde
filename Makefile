# Two commands on a fresh machine: `make sweep` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= cpu,dev

.PHONY: sweep test lint bench venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

sweep: $(STAMP)
	$(PY) sweeper/run.py search_spaces/demo.yaml --resume

test: $(STAMP)
	$(PY) -m pytest -m "not gpu" --durations=15

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(STAMP)
	$(PY) -m bench.frontend --json
	$(PY) -m bench.data --json
	$(PY) -m bench.attack --json
	$(PY) -m bench.sweep --json

clean:
	rm -rf $(VENV) runs .pytest_cache
