# Two entry points, both self-contained on a fresh machine:
#   make app   -> creates .venv, installs the project, starts the Streamlit app on 127.0.0.1:8501
#   make test  -> creates .venv, installs the project with test extras, runs ruff and the test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: app test setup lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

app: $(STAMP)
	$(BIN)/streamlit run dashboard/app.py --server.address 127.0.0.1 --server.port 8501 --server.headless true

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --durations=15
