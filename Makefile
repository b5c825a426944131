# spam-platform — developer entry points. `make help` lists them.
#
# The two set-up commands of the README:
#   make up     run the whole platform locally (MLflow, training if needed, Triton, transformer,
#               gateway on http://127.0.0.1:8080); `make down` stops it
#   make test   install everything the tests need, lint, and run the whole test suite

SHELL := /bin/bash
UV_VERSION := 0.13.9
CHECKOV_VERSION := 3.3.30
export PATH := $(HOME)/.local/bin:$(PATH)
PYTHON_VERSION := 3.11
# images with a Dockerfile (core is a library, not an image)
DOCKER_IMAGES := $(patsubst images/%/Dockerfile,%,$(wildcard images/*/Dockerfile))
# extras of an image's package that only its image installs (no workspace package asks for them,
# so `make setup` leaves them out):
# IMAGE_EXTRAS_<image> := <extra> ... ; batch: Ray's dashboard and job API (see its pyproject)
IMAGE_EXTRAS_batch := cluster
# where `make requirements` writes <image>/requirements.txt (a test exports elsewhere)
REQUIREMENTS_DIR := images
UV := uv

.PHONY: help setup up down status demo test test-fast lint format bench requirements lock clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## install uv (from PyPI) and the locked development environment
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet --user "uv==$(UV_VERSION)" \
		|| python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --locked --all-packages --python $(PYTHON_VERSION)
	@# checkov (chart security scan) pins old common packages: its own tool environment
	@checkov --version 2>/dev/null | grep -qx "$(CHECKOV_VERSION)" || \
		$(UV) tool install --quiet "checkov==$(CHECKOV_VERSION)"
	@ci/scripts/install-tools.sh

up: setup ## run the whole platform locally; prints the URL, an API key and a curl
	$(UV) run spam-platform up

down: ## stop the local platform
	$(UV) run spam-platform down

status: ## processes and readiness of the local platform
	$(UV) run spam-platform status

demo: ## walk through the running local platform (health, tracks, batch, inference log, drift on a normal and a shifted stream, the feedback loop, retrain/promote/rollback dry runs)
	$(UV) run spam-platform demo

test: setup lint ## lint + the whole test suite (what .ci/run calls)
	$(UV) run pytest

test-fast: ## day-to-day: the tests not marked slow, in parallel on every core (pytest-xdist)
	$(UV) run pytest -m "not slow" -n auto

lint: ## ruff, hadolint on every Dockerfile, the workflows (schema, zizmor), lock current, generated files current
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run hadolint $(foreach i,$(DOCKER_IMAGES),images/$(i)/Dockerfile)
	$(UV) run check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yaml
	$(UV) run zizmor --offline --quiet .github/workflows
	$(UV) lock --check
	$(UV) run python -m pipelines.spam_training.compile --check
	$(UV) run python charts/hack/generate.py --check

format: ## apply ruff formatting and autofixes
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: setup ## benchmarks: prints the tables (tests/benchmarks/)
	$(UV) run python -m tests.benchmarks

requirements: ## export each image's pinned requirements from the one shared lock
	@$(foreach i,$(DOCKER_IMAGES),$(UV) export --frozen --package spam-$(i) \
		$(addprefix --extra ,$(IMAGE_EXTRAS_$(i))) --no-dev --no-emit-workspace --no-header -q \
		-o $(REQUIREMENTS_DIR)/$(i)/requirements.txt &&) true

lock: ## re-resolve the lock and re-export the image requirements
	$(UV) lock
	$(MAKE) requirements

clean: ## remove local state (datasets, features, models) and caches
	rm -rf .spam-platform .pytest_cache .ruff_cache
