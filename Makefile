# Two commands for a newcomer: `make run` and `make test`. Both set everything up first, each only
# what it needs, in the same .venv: `make run` the runtime and the local AWS emulator (extra
# `local`); `make test` (and lint, bench, soak, deploy) also the CDK app, pytest and ruff (extra
# `dev`, which includes `local`). A venv made by `make run` is completed by `make test`; after
# `make test`, `make run` installs nothing more.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
# The full install keeps the stamp's old name: a venv set up before the split is not redone.
DEV_STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: run test install lint bench clean deploy soak archive-docs verifier

# $(call install_extra,EXTRA,WHAT): create the venv if needed (with the latest pip: only then, as
# chalice caps pip's version and a later upgrade would be undone with a conflict message), then
# pip install -e '.[EXTRA]' with pip's own progress lines (the first time is the long one), timed.
install_extra = $(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version' \
	&& start=$$(date +%s) \
	&& echo "make: installing $(2) into $(VENV) (first run, or after pyproject.toml or requirements.txt change)..." \
	&& { test -x $(BIN)/python || { $(PYTHON) -m venv $(VENV) && $(PIP) install --quiet --upgrade pip; }; } \
	&& $(PIP) install -e '.[$(1)]' \
	&& echo "make: installed $(2) in $$(( $$(date +%s) - start )) s ($(VENV): $$(du -sh $(VENV) | cut -f1))"

$(RUN_STAMP): pyproject.toml requirements.txt
	@if [ $(DEV_STAMP) -nt pyproject.toml ] && [ $(DEV_STAMP) -nt requirements.txt ]; then :; \
	else $(call install_extra,local,the runtime and the local AWS emulator); fi
	@touch $@

$(DEV_STAMP): pyproject.toml requirements.txt
	@$(call install_extra,dev,the CDK app and the test tools (with the runtime and the local AWS emulator))
	@touch $@ $(RUN_STAMP)

install: $(DEV_STAMP)

## Start the product on the embedded local stack (http://127.0.0.1:8000). Ctrl-C stops it.
run: $(RUN_STAMP)
	@$(BIN)/scelle local

## Run every test (unit, functional, integration, infra) and end with pytest's summary.
test: $(DEV_STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

## More fault-injection schedules than `make test` runs (tests/simulation): make soak SEEDS=1000:20000 [SOAK_SECONDS=600]
SEEDS ?= 1000:11000
SOAK_SECONDS ?= 600
soak: $(DEV_STAMP)
	@$(BIN)/python -m tests.simulation --seeds $(SEEDS) --max-seconds $(SOAK_SECONDS)

lint: $(DEV_STAMP)
	@$(BIN)/ruff check .

## Refresh the copies of docs/ that every export archive carries (ARCHIVE_DOCS, decision 0023).
archive-docs: $(RUN_STAMP)
	@$(BIN)/python -c 'import pathlib, shutil; from chalicelib.verify_export.format import ARCHIVE_DOCS; \
	out = pathlib.Path("chalicelib/verify_export/docs"); out.mkdir(exist_ok=True); \
	[print("archive-docs:", out / n) or shutil.copyfile(f"docs/{n}", out / n) for n in ARCHIVE_DOCS \
	 if pathlib.Path("docs", n).is_file()]'

## The offline verifier as one file (standard library only to build): dist/scelle-verify.pyz, run with
## `python3 dist/scelle-verify.pyz EXPORT.zip` by any Python 3.11+ that can import cryptography.
verifier:
	@$(PYTHON) verifier/build_pyz.py dist/scelle-verify.pyz

## Benchmarks (never part of `make test`): figures are ratios against an in-run baseline.
bench: $(DEV_STAMP)
	@$(BIN)/python -m bench

## Deploy one stage to AWS (docs/deploy.md): make deploy STAGE=prod PREFIX=acme-scelle-prod [ALARM_EMAIL=...]
STAGE ?= prod
REGION ?= eu-west-1
deploy: $(DEV_STAMP)
	@command -v npx >/dev/null || { echo "deploy: Node.js (npx) is needed for the CDK CLI"; exit 2; }
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 AWS_DEFAULT_REGION=$(REGION) \
	  npx -y aws-cdk@2 deploy -c scelle:stage=$(STAGE) -c scelle:region=$(REGION) \
	  $(if $(PREFIX),-c scelle:resource_prefix=$(PREFIX)) $(if $(ALARM_EMAIL),-c scelle:alarm_email=$(ALARM_EMAIL)) \
	  $(if $(MAIL_FROM),-c scelle:mail_from=$(MAIL_FROM)) $(if $(MAIL_DOMAIN),-c scelle:mail_domain=$(MAIL_DOMAIN)) \
	  $(if $(RETENTION_DAYS),-c scelle:archive_retention_days=$(RETENTION_DAYS)) $(CDK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache chalice.out cdk.out infra/chalice.out infra/cdk.out
