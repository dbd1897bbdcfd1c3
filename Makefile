# Two commands set everything up from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): pyproject.toml compat/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./compat -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make demo: validate the example bundle and show what the plugins add
demo: $(STAMP)
	@bash scripts/demo.sh

## make test: the whole pytest suite
test: $(STAMP)
	$(PY) -m pytest

## make bench: benchmarks in bench/, each against a baseline measured in the same run
bench: $(STAMP)
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info compat/*.egg-info
