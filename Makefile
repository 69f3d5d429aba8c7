# The portal's two commands (see README.md):
#   make run   start both sites on 127.0.0.1 (submission :8000, review :8001) over SQLite
#   make test  install what the tests need, then run the whole test suite
# Other targets are conveniences for developers.
#   make bench  time the encryption against a ceiling, the age CLI and gpg (benchmarks/README.md)

VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

run: $(VENV)/.installed
	scripts/run-dev

test: $(VENV)/.installed-test
	scripts/install-test-prerequisites
	$(BIN)/ruff check --quiet .
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/crypto_bench.py $(BENCH_ARGS)

$(VENV)/.installed: pyproject.toml
	scripts/make-venv $(VENV)
	$(BIN)/pip install --quiet --editable .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
