# Two commands set everything up from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench install system-deps clean

# bubblewrap gives each v2 process its own /app/... mounts; installed when missing and we are root.
system-deps:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq bubblewrap; } || \
	  { echo "install bubblewrap (apt-get install bubblewrap) for per-process /app mounts"; exit 1; }

$(STAMP): pyproject.toml compat/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./compat -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make demo: validate the example bundle and show what the plugins add
demo: $(STAMP) system-deps
	@bash scripts/demo.sh

## make test: the whole pytest suite
test: $(STAMP) system-deps
	$(PY) -m pytest

## make bench: benchmarks in bench/, each against a baseline measured in the same run
bench: $(STAMP)
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info compat/*.egg-info
