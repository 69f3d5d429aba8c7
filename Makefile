# The portal's two commands (see README.md):
#   make run   start both sites on 127.0.0.1 (submission :8000, review :8001) over SQLite
#   make test  install what the tests need, then run the whole test suite
# Other targets are conveniences for developers.
#   make bench  time the encryption against a ceiling, the age CLI and gpg (benchmarks/README.md)
#   make bench-inbox  time the review site's inbox with 10,000 and 100,000 reports (same README)
#   make bench-load  load the submission site under gunicorn against a bare endpoint (same README)
#   make translations  extract the public site's texts and merge them into the Welsh catalogue

VENV := .venv
BIN := $(VENV)/bin
CATALOGUE := portal/translations/cy/LC_MESSAGES/messages

.PHONY: run test lint format bench bench-inbox bench-load translations clean

run: $(VENV)/.installed $(CATALOGUE).mo
	scripts/run-dev

test: $(VENV)/.installed-test $(CATALOGUE).mo
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

$(VENV)/.installed: pyproject.toml
	scripts/make-venv $(VENV)
	$(BIN)/pip install --quiet --editable .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --editable '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
