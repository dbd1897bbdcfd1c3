# Two commands set everything up from nothing: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench dist install system-deps docker-deps images clean

# bubblewrap gives each v2 process its own /app/... mounts; chromium renders detailed_results.html in
# the tests. Installed when missing and we are root.
system-deps:
	@missing=""; command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "install:$$missing (apt-get install$$missing)"; exit 1; fi; fi

# The Docker executor's tests: a Docker engine, not only a client (docker.io when no engine answers
# and there is no dockerd; started in the background when none answers),
# debootstrap for the images, busybox-static for the tiny test image. Installed when missing and we are root.
docker-deps:
	@missing=""; { docker info >/dev/null 2>&1 || command -v dockerd >/dev/null; } || missing="$$missing docker.io"; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	{ test -x /bin/busybox && ! ldd /bin/busybox >/dev/null 2>&1; } || missing="$$missing busybox-static"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "install:$$missing (apt-get install$$missing)"; exit 1; fi; fi
	@bash compat/images/start-dockerd.sh

## make images: the container images of compat/images (skipped when their recipe is unchanged)
images: $(STAMP) docker-deps
	$(PY) compat/images/build.py

$(STAMP): pyproject.toml compat/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ./compat -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## make demo: validate the example bundle and show what the plugins add
demo: $(STAMP) system-deps
	@bash scripts/demo.sh

## make test: the import contracts (pyproject.toml [tool.importlinter]), then the whole pytest suite
test: $(STAMP) system-deps images
	$(VENV)/bin/lint-imports
	$(PY) -m pytest

## make dist: sdists and wheels of both distributions in dist/ (each wheel built from its sdist,
## offline with the test extra's setuptools), checked as PyPI would (twine check --strict).
## `make test` builds and checks them too, in a temporary folder (tests/test_distributions.py).
dist: $(STAMP)
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist compat
	$(PY) -m build --no-isolation --outdir dist .
	$(PY) -m twine check --strict dist/*

## make bench: benchmarks in bench/, each against a baseline measured in the same run
bench: $(STAMP) images
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info compat/*.egg-info compat/build
