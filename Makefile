# Two commands for a newcomer: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench clean deploy soak

$(STAMP): pyproject.toml requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## Start the product on the embedded local stack (http://127.0.0.1:8000). Ctrl-C stops it.
run: $(STAMP)
	@$(BIN)/scelle local

## Run every test (unit, functional, integration, infra) and end with pytest's summary.
test: $(STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

## More fault-injection schedules than `make test` runs (tests/simulation): make soak SEEDS=1000:20000 [SOAK_SECONDS=600]
SEEDS ?= 1000:11000
SOAK_SECONDS ?= 600
soak: $(STAMP)
	@$(BIN)/python -m tests.simulation --seeds $(SEEDS) --max-seconds $(SOAK_SECONDS)

lint: $(STAMP)
	@$(BIN)/ruff check .

## Benchmarks (never part of `make test`): figures are ratios against an in-run baseline.
bench: $(STAMP)
	@$(BIN)/python -m bench

## Deploy one stage to AWS (docs/deploy.md): make deploy STAGE=prod PREFIX=acme-scelle-prod [ALARM_EMAIL=...]
STAGE ?= prod
REGION ?= eu-west-1
deploy: $(STAMP)
	@command -v npx >/dev/null || { echo "deploy: Node.js (npx) is needed for the CDK CLI"; exit 2; }
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 AWS_DEFAULT_REGION=$(REGION) \
	  npx -y aws-cdk@2 deploy -c scelle:stage=$(STAGE) -c scelle:region=$(REGION) \
	  $(if $(PREFIX),-c scelle:resource_prefix=$(PREFIX)) $(if $(ALARM_EMAIL),-c scelle:alarm_email=$(ALARM_EMAIL)) \
	  $(if $(MAIL_FROM),-c scelle:mail_from=$(MAIL_FROM)) $(if $(MAIL_DOMAIN),-c scelle:mail_domain=$(MAIL_DOMAIN)) \
	  $(if $(RETENTION_DAYS),-c scelle:archive_retention_days=$(RETENTION_DAYS)) $(CDK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache chalice.out cdk.out infra/chalice.out infra/cdk.out
