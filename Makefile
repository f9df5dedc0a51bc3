# Every target builds .venv itself: a fresh clone needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint loaders format demo sandbox soak clean

# `[dev]` brings the `[sandbox]` extra (the tests and the demo run the sandbox) and the pinned
# lint/type tools. A venv from before the switch to python-backoff still has the `backoff`
# distribution's copy of the shared `backoff/` module: it goes, and python-backoff's comes back.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	if $(BIN)/python -m pip show -q backoff 2>/dev/null; then \
		$(BIN)/python -m pip uninstall -q -y backoff && \
		$(BIN)/python -m pip install -q --force-reinstall --no-deps python-backoff; fi
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# The suite on both cores (pytest-xdist, a test file per worker), then the tests that run Meltano
# in this repository one after another: they share its .meltano/ folder, and two `meltano run`s
# in one project at once remove each other's run files. tests/test_architecture.py fails when a
# test module that runs Meltano lies outside these folders.
MELTANO_TESTS := tests/e2e/meltano tests/dbt
test: lint loaders
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q -n 2 --dist loadfile \
		$(addprefix --ignore=,$(MELTANO_TESTS))
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q $(MELTANO_TESTS)

# Third-party loaders for the PostgreSQL and Meltano tests, each in its own venv under
# .venv-loaders/ (built once, rebuilt when its pinned requirement changes):
# meltanolabs-target-postgres, target-jsonl.
loaders: $(STAMP)
	$(BIN)/python -m tests.helpers.loaders

# The whole loop: the sandbox into DuckDB with Meltano (twice), the dbt package (dbt build, docs),
# then the dbt model engaged_contacts back into Emarsys as an RDS table.
demo: $(STAMP)
	$(BIN)/python demo/run_demo.py

# target-emarsys killed (SIGKILL) at 20 random points of a 100,000-record load, rerun each time.
soak: $(STAMP)
	$(BIN)/python bench/soak_target_kill.py

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

sandbox: $(STAMP)
	$(BIN)/emarsys-sandbox serve --port 8099 --contacts 1000 --seed 1

clean:
	rm -rf $(VENV) .venv-loaders .venv-py3.10 .venv-py3.13 .meltano output .pytest_cache .mypy_cache .ruff_cache
