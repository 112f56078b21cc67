# Fundfill: `make run` serves the demo site; `make test` runs every check and test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: install run test lint bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	@echo ""
	@echo "  Fundfill is starting at http://127.0.0.1:$(PORT)/  (admin at http://127.0.0.1:$(PORT)/admin/)"
	@echo "  Logins: admin / fundfill-admin   editor / fundfill-editor   backers ada, grace, linus, radia, hedy, alan and claimants starbug, margaret / fundfill-backer"
	@echo "  Stop with Ctrl-C."
	@echo ""
	PORT=$(PORT) SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(VENV)/bin/honcho -f Procfile.dev start

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install lint
	DJANGO_SETTINGS_MODULE=fundfill.settings.test $(PY) manage.py check --fail-level WARNING
	DJANGO_SETTINGS_MODULE=fundfill.settings.test $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
