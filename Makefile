# vitrine — the README's two commands are `make local` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_PYTHON ?= $(shell ls -d $$(pyenv root 2>/dev/null)/versions/3.13*/bin 2>/dev/null | head -1)
PYTEST_ARGS ?=

.PHONY: venv test lint typecheck cfn-lint chromium unit local demo bench proof build deploy deploy-guided secrets subscribe clean aviv-contract

# The vitrine CLI (cli/, docs/cli.md) goes in editable, its dependencies already pinned above.
$(STAMP): requirements/dev.txt layers/vitrine/requirements.txt cli/pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "vitrine needs Python >= 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e cli
	touch $(STAMP)

venv: $(STAMP)

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/vitrine/vitrine functions devtools ops cli/vitrine_cli

# Headless Chromium (Debian's package) for the browser tests; installed when missing.
chromium:
	sh devtools/ensure_chromium.sh

test: $(STAMP) chromium cfn-lint lint typecheck
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

local: $(STAMP)
	$(BIN)/python -m devtools.local_stack

demo: $(STAMP)
	$(BIN)/python -m devtools.demo

# Every script runs even when one fails; a PASS/FAIL line per script (its exit code) ends the run.
BENCH_SCRIPTS ?= $(sort $(wildcard bench/*.py))

bench: $(STAMP)
	@failed=0; results=""; \
	for b in $(BENCH_SCRIPTS); do \
		echo "== $$b"; \
		if PYTHONPATH=layers/vitrine:. $(BIN)/python $$b; then r=PASS; else r=FAIL; failed=1; fi; \
		results="$$results $$r:$$b"; \
	done; \
	echo "== bench summary"; \
	for r in $$results; do echo "$${r%%:*}  $${r#*:}"; done; \
	exit $$failed

# The figures behind vitrine's claims, at full count, written to docs/proof.md (generated: never edit
# it by hand): the HTTP API fuzzed through the local stack (>= 5,000 cases) and the core's properties
# (hypothesis profile "proof", VITRINE_PROOF=1), the crash-point fault matrix, the load on loopback
# and the cost. Each suite writes its figures as JSON into $$VITRINE_PROOF_FIGURES_DIR; make test runs
# the fuzzing and property suites with the fast profile and the fault matrix's diagonal.
PROOF_SUITES ?= python -m pytest -p no:cacheprovider -q tests/fuzz tests/properties

proof: $(STAMP)
	VITRINE_PROOF=1 VITRINE_PROOF_SUITES='$(PROOF_SUITES)' PYTHONPATH=layers/vitrine:. $(BIN)/python -m devtools.proof

SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam

# SAM CLI in its own virtualenv (python3.13, the Lambda runtime, which `sam build` also needs on PATH).
$(SAM): requirements/sam.txt
	@test -n "$(SAM_PYTHON)" || (echo "make build needs a python3.13 (pyenv install 3.13)"; exit 1)
	test -x $(SAM_VENV)/bin/python || $(SAM_PYTHON)/python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	touch $(SAM)

build: $(SAM)
	PATH="$(SAM_PYTHON):$$PATH" $(SAM) build

# Deploying: samconfig.toml's environments (docs/operations.md). ENV=sandbox|production.
ENV ?= sandbox
SAM_DEPLOY_ARGS ?=
SECRETS_ARGS ?=

deploy: build
	$(SAM) deploy --config-env $(ENV) $(SAM_DEPLOY_ARGS)

deploy-guided: build
	$(SAM) deploy --guided --config-env $(ENV) $(SAM_DEPLOY_ARGS)

secrets: $(STAMP)
	$(BIN)/python -m ops.put_secrets --env $(ENV) $(SECRETS_ARGS)

# The stack and region samconfig.toml gives ENV.
STACK ?= vitrine-$(ENV)
REGION ?= eu-west-3

subscribe: $(STAMP)
	$(BIN)/python -m devtools.subscribe --stack-name $(STACK) --region $(REGION)

# The layer's copy of AVIV's AvivClassified schema, from the official OpenAPI export ($$AVIV_OPENAPI
# or ../shared/aviv); a unit test fails when it is stale.
aviv-contract: $(STAMP)
	$(BIN)/python -m devtools.aviv_contract

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .local
