# ckanext-communes: one command to run the portal, one to test it. See README.md.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
CKAN := $(VENV)/bin/ckan
DEV_INI := .dev/ckan.ini
STAMP := $(VENV)/.installed

.PHONY: run test bench install system stack stack-down seed lint i18n help

help:
	@echo "make run     install, start PostgreSQL/Redis/Solr, initialise and seed, serve CKAN on http://127.0.0.1:5000"
	@echo "make test    run the test suite against the real services"
	@echo "make bench   benchmarks (ratios against a baseline measured in the same run)"
	@echo "make lint    ruff, and the layers of the house (import-linter, setup.cfg)"
	@echo "make i18n    extract, update and compile the French catalogue"

$(PY):
	python3 -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-extensions.txt requirements-nodeps.txt dev-requirements.txt setup.cfg setup.py
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -r dev-requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
# ckanext-xloader's and ckanext-geoview 0.3.2's wheels ship a pkgutil-style ckanext/__init__.py, ckanext-spatial
# 2.3.2's an empty one: ckanext then looks like a regular package to import-linter (`make lint` fails:
# NotATopLevelModule). Every extension declares the namespace itself: drop the file.
	rm -f $(VENV)/lib/python*/site-packages/ckanext/__init__.py
	$(PY) -m pip install -q -e .
	touch $(STAMP)

install: $(STAMP)

system:
	bash dev/system-deps.sh

stack: system install
	VENV=$(VENV) bash dev/stack.sh up

stack-down:
	bash dev/stack.sh down

$(DEV_INI): dev/ckan-options.ini | install
	mkdir -p .dev
	[ -f $(DEV_INI) ] || $(CKAN) generate config $(DEV_INI) >/dev/null
	$(CKAN) config-tool $(DEV_INI) -f dev/ckan-options.ini >/dev/null
# A key for the stored source passwords, generated once: an existing key is never replaced.
	grep -Eq '^ckanext\.communes\.secrets_key *= *[^ ]' $(DEV_INI) || $(CKAN) config-tool $(DEV_INI) \
	  "ckanext.communes.secrets_key=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" >/dev/null

run: stack $(DEV_INI)
	VENV=$(VENV) bash dev/run.sh $(DEV_INI)

seed: stack $(DEV_INI)
	$(CKAN) -c $(DEV_INI) communes seed

test: stack
	VENV=$(VENV) bash dev/test.sh

bench: stack
	VENV=$(VENV) bash dev/bench.sh

lint: install
	$(VENV)/bin/ruff check ckanext dev
	$(VENV)/bin/lint-imports --no-cache

i18n: install
	$(PY) dev/i18n_build.py
