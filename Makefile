# The portal's two commands (see README.md):
#   make run   start both sites on 127.0.0.1 (submission :8000, review :8001) over SQLite
#   make test  install what the tests need, then run the whole test suite
# Other targets are conveniences for developers.
#   make bench  time the encryption against a ceiling, the age CLI and gpg (benchmarks/README.md)
#   make bench-rekey  time re-keying against decrypt + re-encrypt and a plain copy (same README)
#   make bench-rekey-run  time `portal keys rekey` over a throwaway deployment (same README)
#   make bench-inbox  time the review site's inbox with 10,000 and 100,000 reports (same README)
#   make bench-load  load the submission site under gunicorn against a bare endpoint (same README)
#   make translations  extract the public site's texts and merge them into the Welsh catalogue
#   make lock  refresh requirements/*.txt, the hashed lock files, from pyproject.toml

VENV := .venv
BIN := $(VENV)/bin
CATALOGUE := portal/translations/cy/LC_MESSAGES/messages
# Every install comes from these, with hashes enforced: the runtime dependencies, and the runtime
# and test dependencies together (`make lock` writes both).
LOCK := requirements/main.txt
LOCK_TEST := requirements/test.txt
# The locking tool lives in a venv of its own, so it is never among the portal's dependencies.
LOCK_VENV := .venv-lock
LOCK_TOOL := pip-tools==7.7.0
# The build backend (setuptools) is locked too, and the portal is installed with it, not with
# whatever release is newest on the day: --build-deps-for=editable and --no-build-isolation.
# The files name no index (pip's own settings choose it; the hashes decide what is accepted),
# and their header says to remake them with `make lock`.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_VENV)/bin/pip-compile --quiet \
  --generate-hashes --allow-unsafe --build-deps-for=editable --strip-extras \
  --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

.PHONY: run test lint format bench bench-rekey bench-rekey-run bench-inbox bench-load translations lock clean

run: $(VENV)/.installed $(CATALOGUE).mo
	scripts/run-dev

test: $(VENV)/.installed-test $(CATALOGUE).mo
	$(BIN)/python scripts/check_lock.py
	scripts/install-test-prerequisites
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check portal tests benchmarks migrations wsgi.py
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format portal tests benchmarks migrations wsgi.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/crypto_bench.py $(BENCH_ARGS)

bench-rekey: $(VENV)/.installed
	$(BIN)/python benchmarks/rekey_bench.py $(BENCH_ARGS)

bench-rekey-run: $(VENV)/.installed
	$(BIN)/python benchmarks/rekey_run_bench.py $(BENCH_ARGS)

bench-inbox: $(VENV)/.installed
	$(BIN)/python benchmarks/inbox_bench.py $(BENCH_ARGS)

bench-load: $(VENV)/.installed
	$(BIN)/python benchmarks/load.py $(BENCH_ARGS)

# The Welsh catalogue is kept as text (.po) and compiled here; the compiled file is not committed.
$(CATALOGUE).mo: $(CATALOGUE).po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d portal/translations -l cy 2>&1 | tail -1

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F portal/translations/babel.cfg -k _l -k N_ --no-location --sort-output \
	  -o portal/translations/messages.pot .
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations -l cy \
	  --no-wrap --ignore-obsolete

$(VENV)/.installed: $(LOCK) pyproject.toml
	scripts/make-venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --requirement $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation --editable .
	touch $@

$(VENV)/.installed-test: $(LOCK_TEST) $(VENV)/.installed
	$(BIN)/pip install --quiet --require-hashes --requirement $(LOCK_TEST)
	touch $@

# Keeps every pin that still fits pyproject.toml. To move on to newer releases:
# make lock LOCK_ARGS=--upgrade (everything) or LOCK_ARGS="--upgrade-package NAME" (one).
# The test lock is constrained by the runtime one, so both pin the same versions.
lock: $(LOCK_VENV)/.installed-$(LOCK_TOOL)
	@$(LOCK_VENV)/bin/python -c 'import platform as p, sys; sys.exit(None if \
	  (sys.version_info[:2], p.system(), p.machine()) == ((3, 11), "Linux", "x86_64") else \
	  "make lock resolves for the Python it runs on: run it with Python 3.11 on Linux x86_64.")'
	mkdir -p $(sort $(dir $(LOCK) $(LOCK_TEST)))
	$(PIP_COMPILE) --output-file=$(LOCK) pyproject.toml
	$(PIP_COMPILE) --extra=test --constraint=$(LOCK) --output-file=$(LOCK_TEST) pyproject.toml

$(LOCK_VENV)/.installed-$(LOCK_TOOL):
	scripts/make-venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet $(LOCK_TOOL)
	touch '$@'

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .ruff_cache
