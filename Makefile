# vipkeeper: `make test` runs every test, `make demo` shows a failover on a local lab.
# Both install what they need (apt + ./.venv) on a fresh Debian machine.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
# Outside the git work tree: inside it, ansible-test would ask git for the file list and see none.
# COLL_TAG gives a stage run beside others a tree of its own (tests/tools/stages.py).
COLL := $(or $(TMPDIR),/tmp)/vipkeeper-coll-$(shell echo '$(CURDIR)' | md5sum | cut -c1-8)$(COLL_TAG)/ansible_collections/vipkeeper/vrrp
PYTEST := $(BIN)/python -m pytest

LAB ?= demo
LBS ?= 2
LAB_PY := $(BIN)/python tests/lab/lab.py

.PHONY: lab-up lab-down test-lab test-molecule test-molecule-migrate
.PHONY: vm-image test-vm
.PHONY: test-build test-drill test deps lint test-runtime test-collection collection-tree sanity units build demo demo-down clean
.PHONY: lint-ansible changelog-lint test-collection-integration test-collection-migrate test-ansible-matrix
.PHONY: test-runtime-py39 test-runtime-py313 test-unit test-collection-modules

# The stages of `make test`, timed by tests/tools/stages.py (docs/lab.md#the-stages-of-make-test):
# one after the other, except that the CPU-bound stages that time nothing (the linters,
# ansible-test, the module tests, the ansible-core matrix), then the molecule migrate scenario,
# run niced in the background beside the collection's integration tests and the migration lab
# test. A table of every stage's wall time ends the output.
TEST_STAGES ?= test-vm test-runtime test-runtime-hosts \
	'test-collection-integration test-collection-migrate | lint test-build sanity units \
	test-collection-modules lint-ansible changelog-lint test-ansible-matrix test-molecule-migrate' \
	test-lab test-molecule test-drill
test: deps
	@$(BIN)/python tests/tools/stages.py --make '$(MAKE)' $(TEST_STAGES)
	@echo ">> make test: all green"

deps:
	@tests/tools/bootstrap.sh

lint: deps
	@echo ">> ruff"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo ">> mypy --strict runtime/src"
	cd runtime && $(BIN)/mypy --strict
	@echo ">> layering contracts (tests/tools/check_layers.py)"
	$(BIN)/python tests/tools/check_layers.py

test-runtime: deps
	@echo ">> runtime tests"
	cd runtime && $(PYTEST) -q --durations=15

# The tests that need no root, namespaces, keepalived or VM, as any user, in under a minute: the
# runtime's (-m "not root": runtime/tests/conftest.py marks what needs root; "not slow": the few
# property and size tests of many seconds each, which test-runtime still runs) and the
# collection's units under tests/unit, with pytest on a copy of the collection tree and this
# checkout's runtime. Not a replacement for test-runtime and units, which `make test` runs.
test-unit: collection-tree
	@echo ">> unit tests without root"
	cd runtime && PYTHONPATH=$(CURDIR)/runtime/src $(PYTEST) -q -p no:cacheprovider -n 2 \
		-m "not root and not slow"
	cd $(COLL) && PYTHONPATH=$(abspath $(COLL)/../../..):$(CURDIR)/runtime/src $(PYTEST) -q \
		-p no:cacheprovider --import-mode=importlib -n 2 tests/unit

# The runtime suite under its oldest and newest supported Pythons (3.9, 3.13), each in a venv of
# its own under build/ (re-made when runtime/pyproject.toml or tests/requirements.txt change):
# the runtime installed with pip, the test tools of tests/requirements.txt, and the tests run
# against runtime/src. Not part of `make test`. PY39 / PY313 name the interpreters;
# PYNN_ARGS picks the tests (default: all but the qemu VM ones, which run the VM's Python).
PY39 ?= /root/.pyenv/versions/3.9.18/bin/python
PY313 ?= /root/.pyenv/versions/3.13.0/bin/python
PYNN_ARGS ?= -m "not vm" tests

test-runtime-py39:
	$(call runtime-on-python,3.9,$(PY39),PY39)

test-runtime-py313:
	$(call runtime-on-python,3.13,$(PY313),PY313)

# $(1): the version, $(2): the interpreter, $(3): the variable naming it.
define runtime-on-python
@set -e; py='$(2)'; venv='$(CURDIR)/build/runtime-py$(1)'; \
if ! [ -x "$$py" ] || [ "$$("$$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != '$(1)' ]; then \
	echo "no Python $(1) at $$py: install one and run make $@ $(3)=/path/to/python$(1)" >&2; exit 1; fi; \
stamp="$$(cat runtime/pyproject.toml tests/requirements.txt | sha256sum | cut -c1-16)"; \
if [ "$$(cat "$$venv/.stamp" 2>/dev/null)" != "$$stamp" ]; then \
	echo ">> venv for Python $(1): $$venv"; rm -rf "$$venv"; "$$py" -m venv "$$venv"; \
	src="$$(mktemp -d)"; trap 'rm -rf "$$src"' EXIT; \
	rsync -a --exclude '*.egg-info' --exclude __pycache__ --exclude build --exclude tests \
		runtime/ "$$src/runtime/"; \
	"$$venv/bin/pip" install -q --disable-pip-version-check "$$src/runtime[metrics]" \
		$$(grep -E '^(pytest|pytest-timeout|hypothesis)[<>=]' tests/requirements.txt | sed 's/ *#.*//'); \
	echo "$$stamp" >"$$venv/.stamp"; fi
@echo ">> runtime tests on $$('$(CURDIR)/build/runtime-py$(1)/bin/python' -V)"
cd runtime && PYTHONPATH='$(CURDIR)/runtime/src' '$(CURDIR)/build/runtime-py$(1)/bin/python' \
	-m pytest -q -p no:cacheprovider $(PYNN_ARGS)
endef

# The runtime's tests on the Python of the oldest and the newest Debian release the roles support,
# inside booted lab hosts (tests/lab/runtime_hosts.py, docs/lab.md): bullseye's python3 3.9 and
# trixie's 3.13, as root in the container, the runtime installed from its wheel into a venv with
# no index, each release's own keepalived as the reference peer. Fails unless each host runs the
# expected Python and its tests pass with no skip. Both hosts run at once, each all of
# tests/daemon and tests/interop. RUNTIME_HOSTS_BULLSEYE / RUNTIME_HOSTS_TRIXIE are the pytest
# arguments.
# test_track_process.py is left out: the kernel's process-events connector exists only in the
# initial network namespace, which a container cannot reach (keepalived gets no events there
# either); test-runtime runs it on the build host, where the daemon subscribes in pid 1's.
RUNTIME_HOSTS_BULLSEYE ?= tests/daemon tests/interop --deselect tests/daemon/test_track_process.py
RUNTIME_HOSTS_TRIXIE ?= $(RUNTIME_HOSTS_BULLSEYE)
.PHONY: test-runtime-hosts
test-runtime-hosts: deps
	@echo ">> runtime tests in lab hosts: Python 3.9 (bullseye), 3.13 (trixie)"
	$(LAB_PY) rootfs --releases bullseye,trixie >/dev/null
	$(BIN)/python tests/lab/runtime_hosts.py --parallel \
		--run bullseye='$(RUNTIME_HOSTS_BULLSEYE)' --run trixie='$(RUNTIME_HOSTS_TRIXIE)'

# ansible-test needs the collection at ansible_collections/<namespace>/<name>.
collection-tree:
	@rm -rf $(COLL) && mkdir -p $(COLL)
	@rsync -a --delete --exclude-from=tests/tools/collection-excludes.txt \
		--exclude-from=tests/tools/sanity-excludes.txt ./ $(COLL)/

# ansible-test bootstraps pip in its sanity venvs with get-pip.py from ci-files.testing.ansible.com,
# which this machine and CI cannot reach: seed its cache with tests/sanity/bootstrap_pip.py
# (ensurepip, then pip from PyPI) unless a real script is already cached.
sanity: deps collection-tree
	@pipv=$$($(BIN)/python -c "import types, ansible_test._internal.python_requirements as r; \
		print(r.get_venv_packages(types.SimpleNamespace(version='3.11'))['pip'].replace('.', '_'))"); \
	boot="$$HOME/.ansible/test/cache/get_pip_$$pipv.py"; \
	[ -s "$$boot" ] || { mkdir -p "$$(dirname "$$boot")" && cp tests/sanity/bootstrap_pip.py "$$boot"; }
	@echo ">> ansible-test sanity"
	cd $(COLL) && $(BIN)/ansible-test sanity --python 3.11 --color no $(SANITY_ARGS)

units: deps collection-tree
	@echo ">> collection unit tests"
	cd $(COLL) && $(BIN)/ansible-test units --python 3.11 --color no --requirements-mode skip --local $(UNITS_ARGS)

test-collection: test-build sanity units test-collection-modules lint-ansible changelog-lint \
	test-collection-integration test-collection-migrate

# The module_utils backends and the golden renders against the kernel and keepalived -t (root,
# namespaces): tests/integration/modules, with pytest on the collection tree as units use it.
test-collection-modules: deps collection-tree
	@echo ">> module tests in namespaces"
	cd $(COLL) && PYTHONPATH=$(abspath $(COLL)/../../..) $(PYTEST) -q -p no:cacheprovider \
		--import-mode=importlib tests/integration/modules

# ansible-lint, production profile (.ansible-lint): roles, playbooks, role metadata.
lint-ansible: deps
	@echo ">> ansible-lint (production profile)"
	$(BIN)/ansible-lint -q

changelog-lint: deps
	@echo ">> antsibull-changelog lint"
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	@grep -q '^v$(shell sed -n 's/^version: //p' galaxy.yml)$$' CHANGELOG.rst || \
		{ echo "CHANGELOG.rst has no section for galaxy.yml's version" >&2; exit 1; }

# ansible-playbook against throwaway namespaces (render, check mode, idempotence, the lock) and
# vipkeeper.vrrp.site against two hosts of the nspawn lab (offline install, deploy, reload).
# The migration lab test (import, migrate, roll back, the rolling daemon switch) is a stage of
# its own, test-collection-migrate, so that `make test` can run it in the other lane.
MIGRATE_LAB := tests/integration/collection/test_migrate_lab.py
test-collection-integration: deps collection-tree
	@echo ">> collection integration tests (ansible-playbook in namespaces)"
	VIPKEEPER_COLLECTIONS_PATH=$(abspath $(COLL)/../../..) $(PYTEST) -q -p no:cacheprovider \
		--durations=15 --ignore=$(MIGRATE_LAB) tests/integration/collection

# playbooks/migrate.yml, migrate_rollback.yml and site.yml's daemon switch on a lab of its own,
# with a client probing the VIP throughout (docs/migration.md).
test-collection-migrate: deps collection-tree
	@echo ">> migration lab test (keepalived -> vipkeeper -> keepalived, client probing)"
	VIPKEEPER_COLLECTIONS_PATH=$(abspath $(COLL)/../../..) $(PYTEST) -q -s -p no:cacheprovider \
		--durations=5 $(MIGRATE_LAB)

# The oldest and the newest ansible-core the collection claims (meta/runtime.yml), besides the one
# in .venv: per release a venv of its own on a Python it supports (cached in ANSIBLE_MATRIX_CACHE,
# rebuilt only when tests/requirements-matrix.txt or runtime/pyproject.toml change), then
# ansible-test sanity, ansible-test units and the render play (tests/tools/ansible_matrix.sh).
ANSIBLE_MATRIX ?= 2.16 2.20
ANSIBLE_MATRIX_CACHE ?= $(CURDIR)/build/ansible-matrix
test-ansible-matrix: deps
	@set -e; for v in $(ANSIBLE_MATRIX); do tests/tools/ansible_matrix.sh $$v $(ANSIBLE_MATRIX_CACHE); done

build: deps
	$(BIN)/ansible-galaxy collection build --force --output-path build/

# The built artifact must carry the runtime (the runtime role installs it from there) and no caches.
test-build: build
	@echo ">> collection artifact"
	@tar tzf build/vipkeeper-vrrp-*.tar.gz >build/contents.txt
	@for f in MANIFEST.json LICENSE runtime/pyproject.toml runtime/src/vipkeeper/cli.py \
		plugins/action/render.py roles/runtime/tasks/main.yml playbooks/site.yml; do \
		grep -qx "$$f" build/contents.txt || { echo "artifact lacks $$f" >&2; exit 1; }; done
	@! grep -E '(^|/)(\.venv|\.git|__pycache__|\.mypy_cache|\.ruff_cache|\.hypothesis|\.pytest_cache)/' \
		build/contents.txt || { echo "artifact carries caches (above)" >&2; exit 1; }

# The demo (docs/quickstart.md): lab `demo` (reused when it runs), vipkeeper.vrrp.site, a failover
# drill, a short report. The lab keeps running until `make demo-down`.
demo: deps
	@$(BIN)/python tests/demo/demo.py up

demo-down:
	@$(BIN)/python tests/demo/demo.py down

# Molecule scenarios on the lab (docs/molecule.md): default (vipkeeper), keepalived, mixed.
# Each brings its own lab up and tears it down; MOLECULE_SCENARIOS picks some.
MOLECULE_SCENARIOS ?= default keepalived mixed
test-molecule: deps
	@echo ">> molecule scenarios on the lab: $(MOLECULE_SCENARIOS)"
	$(LAB_PY) rootfs --releases all >/dev/null
	@set -e; for s in $(MOLECULE_SCENARIOS); do start=$$SECONDS; $(BIN)/molecule test -s $$s; \
		echo ">> molecule scenario $$s took $$((SECONDS - start)) s"; done

# The molecule migrate scenario (docs/molecule.md): a hand-written keepalived pair imported,
# migrated to vipkeeper and rolled back, the client probing (the migration report). A target of
# its own, not in MOLECULE_SCENARIOS: it took longer than the others (docs/molecule.md).
test-molecule-migrate: deps
	@echo ">> molecule migrate scenario on the lab"
	$(LAB_PY) rootfs >/dev/null
	@start=$$SECONDS; rc=0; $(BIN)/molecule test -s migrate || rc=$$?; \
		echo ">> molecule scenario migrate took $$((SECONDS - start)) s"; exit $$rc

# Failover drills end to end (tests/integration/drill, docs/drills.md): what the molecule
# scenarios do not drill (check mode, refusals, keepalived's isolate heal, the mixed cluster with a
# vipkeeper master), on clusters deployed by vipkeeper.vrrp.site on a lab of its own; and a lab
# Prometheus with the shipped rules: the alerts fire and clear in drills (docs/monitoring.md).
test-drill: deps
	@echo ">> failover drills on the lab"
	$(LAB_PY) rootfs >/dev/null
	$(PYTEST) -q -p no:cacheprovider --durations=15 tests/integration/drill

clean:
	rm -rf build .venv

# The nspawn lab (tests/lab, docs/lab.md): `make lab-up LAB=name LBS=2`, `make lab-down LAB=name`.
lab-up: deps
	$(LAB_PY) up $(LAB) --lbs $(LBS)

lab-down:
	$(LAB_PY) down $(LAB)

# Builds the cached base trees first (about 1.5 min per release, once) so their progress shows,
# then the tests: bookworm, and bullseye and trixie for the releases test and molecule's default.
test-lab: deps
	@echo ">> lab tests (systemd-nspawn hosts)"
	$(LAB_PY) rootfs --releases all >/dev/null
	cd tests/lab && $(PYTEST) -q -p no:cacheprovider tests

# The qemu lab VM (tests/lab/vm, docs/lab-vm.md): Debian's cloud kernel, which has ip_vs.
# Builds the cached image first (about 1.5 min, once) so its progress shows, then the tests.
# It runs before test-runtime, whose IPVS tests (runtime/tests/lvs) boot the same image.
vm-image: deps
	@$(BIN)/python tests/lab/vm/vmrun.py --build-only

test-vm: vm-image
	@echo ">> lab VM tests (qemu -accel tcg, Debian cloud kernel with ip_vs)"
	$(PYTEST) -q -p no:cacheprovider tests/lab/vm
