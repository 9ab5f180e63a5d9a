# Marea: `make demo` runs it on an embedded AWS, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test unit integration lint typecheck check bench clean chat-deps chat-system-deps bench-chat

venv: $(STAMP)

$(STAMP): requirements.in requirements-dev.txt chat/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Marea needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet -e . --no-deps
	touch $(STAMP)

demo: venv demo-deps console-assets
	$(BIN)/python -m marea_local.demo $(DEMO_ARGS)

# The console's chart library, from npm (console/package-lock.json), copied where the API serves it and Chalice
# bundles it (chalicelib/console/vendor/, not committed).
.PHONY: console-assets
CONSOLE_CHART := chalicelib/console/vendor/chart.umd.min.js

console-assets: $(CONSOLE_CHART)

$(CONSOLE_CHART): console/package.json console/package-lock.json
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory chat-system-deps CHAT_SYSTEM_DEPS=npm:npm
	cd console && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(@D)
	cp console/node_modules/chart.js/dist/chart.umd.min.js $@

# The demo's chat page and console need npm packages, as `make test` does (npm itself is required: as root on
# Debian it is installed); redis-server, for the real chat tier, is installed too when running as root, and is
# otherwise optional: without it the chat tier is simulated.
.PHONY: demo-deps
demo-deps:
	@if [ "$$(id -u)" = 0 ]; then deps="npm:npm redis-server:redis-server"; else deps="npm:npm"; fi; \
	$(MAKE) --no-print-directory chat-deps CHAT_SYSTEM_DEPS="$$deps"

test: venv chat-deps checkov console-assets
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

unit: venv
	$(BIN)/python -m pytest -q tests/unit

integration: venv
	$(BIN)/python -m pytest -q tests/integration

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy app.py chalicelib marea_local bench chat kops_runner marea_backtest marea_cli marea_deploy

check: lint typecheck test

bench: venv console-assets
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/decision_latency.py
	$(BIN)/python bench/time_to_act.py
	$(BIN)/python bench/high_resolution.py
	$(BIN)/python bench/backtest.py
	$(BIN)/python bench/backtest_api.py
	$(BIN)/python bench/console.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

# The chat (chat/, tests/chat) needs Debian's redis-server and chromium, and the socket.io browser client
# from npm (chat/package-lock.json). As root on Debian they are installed; otherwise the missing ones are named.
CHAT_SYSTEM_DEPS := redis-server:redis-server chromium:chromium npm:npm

chat-deps: chat/node_modules/.package-lock.json

chat/node_modules/.package-lock.json: chat/package.json chat/package-lock.json | chat-system-deps
	cd chat && npm ci --no-audit --no-fund --loglevel=error
	touch $@

chat-system-deps:
	@missing=""; for pair in $(CHAT_SYSTEM_DEPS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "chat-deps: apt-get install$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "chat-deps: missing Debian packages:$$missing (run as root: apt-get install$$missing)" >&2; exit 1; \
	  fi; \
	fi

bench-chat: venv chat-deps
	$(BIN)/python bench/chat/chat_throughput.py $(BENCH_ARGS)

# checkov (security scan of infra/, run by tests/infra) pins boto3 and packaging versions that clash with
# requirements-dev.txt, so it gets its own virtualenv inside .venv, pinned by infra/requirements-checkov.txt.
.PHONY: checkov package
CHECKOV_VENV := $(VENV)/checkov

checkov: $(CHECKOV_VENV)/.installed

$(CHECKOV_VENV)/.installed: infra/requirements-checkov.txt | $(STAMP)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r infra/requirements-checkov.txt
	touch $@

# vendor/: the Lambda's dependencies, installed from requirements.lock.txt with hashes required (infra/vendor.py);
# `chalice deploy` and `chalice package` bundle it as it is (requirements.txt stays empty). Rebuilt when the lock
# changes or its recipe does (it carries bytecode: marea_deploy/bytecode.py); `infra/vendor.py --check` says whether
# it is current (a deploy runs it first).
.PHONY: vendor
vendor: vendor/requirements.lock.txt

vendor/requirements.lock.txt: requirements.lock.txt infra/vendor.py marea_deploy/bytecode.py | $(STAMP)
	$(BIN)/python infra/vendor.py

# `chalice package` of the app and vendor/ (no index reached), then validated (infra/package.py).
STAGE ?= dev

package: venv vendor console-assets
	$(BIN)/python infra/package.py --stage $(STAGE)

# `make deploy STAGE=dev|prod`: the data stack (and, by DEPLOY_ARGS, network, webapp, chat, kops-runner), the
# stage's environment from their outputs, then `chalice deploy` (marea_deploy/; README "Deploy to AWS"). Idempotent.
# `make destroy` deletes the Lambdas and the stacks it made, keeping the decision table unless --delete-decisions.
# `make deploy-rehearsal`: the same `make deploy`, twice, into a fresh embedded AWS (marea_local/deploy_rehearsal.py).
.PHONY: deploy destroy deploy-rehearsal
# The rehearsal sets DEPLOY_VENDOR empty: it deploys without dependencies (moto runs no function).
DEPLOY_VENDOR := vendor

deploy: venv console-assets $(DEPLOY_VENDOR)
	$(BIN)/python -m marea_deploy deploy --stage $(STAGE) $(DEPLOY_ARGS)

destroy: venv
	$(BIN)/python -m marea_deploy destroy --stage $(STAGE) $(DESTROY_ARGS)

deploy-rehearsal: venv console-assets
	$(BIN)/python -m marea_local.deploy_rehearsal

# After `chalice deploy`: Marea's UpdateService, under the stage's policy, on one service it scales
# (infra/smoke_check.py; exit 1 = refused: roll the Lambdas back). SMOKE_CLUSTER/SMOKE_SERVICE: that service.
.PHONY: smoke-check
smoke-check: venv
	$(BIN)/python infra/smoke_check.py --stage $(STAGE) --cluster $(SMOKE_CLUSTER) --service $(SMOKE_SERVICE)

# Reliability (RELIABILITY.md): `make test` runs tests/reliability short; this runs the fuzzers 10x longer and the
# scenarios at full size (bench/reliability.py prints the table), then one tick over 1,000 targets. Bounded: ~15 min.
.PHONY: reliability lock secrets-baseline
LAMBDA_PYTHON = $(shell $(BIN)/python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')

reliability: venv
	MAREA_RELIABILITY=full $(BIN)/python -m pytest -q tests/reliability
	$(BIN)/python bench/reliability.py
	$(BIN)/python bench/tick_fanout.py --targets 1000

# Hash-locked sets (each pin with the sha256 of every file of its version, so one lock serves amd64 and arm64):
# requirements.lock.txt from requirements.in for the Lambda platform (the venv's Python, which Chalice deploys
# with); each image's lock from its requirements.txt for the Python of its base image (kops runner 3.11, chat 3.12).
LOCK = $(BIN)/uv pip compile --generate-hashes --python-platform x86_64-manylinux_2_17 \
  --custom-compile-command "make lock" --quiet
lock: venv
	$(LOCK) requirements.in --python-version $(LAMBDA_PYTHON) -o requirements.lock.txt
	$(LOCK) kops_runner/requirements.txt --python-version 3.11 -o kops_runner/requirements.lock.txt
	$(LOCK) chat/requirements.txt --python-version 3.12 -o chat/requirements.lock.txt

# .secrets.baseline: what detect-secrets finds today; audit it after (`.venv/bin/detect-secrets audit .secrets.baseline`).
secrets-baseline: venv
	git ls-files --cached --others --exclude-standard | grep -v -E '^bench/data/.*\.csv$$|^\.secrets\.baseline$$' \
	  | xargs $(BIN)/detect-secrets scan --baseline .secrets.baseline
