#!/usr/bin/env bash
# The collection against one more ansible-core release (make test-ansible-matrix, docs/collection.md):
#   tests/tools/ansible_matrix.sh VERSION CACHE
# VERSION is a release line such as 2.16. In CACHE/ansible-core-VERSION, a venv of its own
# (reused while tests/requirements-matrix.txt and runtime/pyproject.toml are unchanged) gets
# ansible-core==VERSION.*, the unit tests' packages and the runtime (editable, for `vipkeeper
# check`), on a Python that release supports as a controller. Then, against a collection tree
# of its own: ansible-test sanity, ansible-test units, and the render play of
# tests/integration/collection/test_render_playbook.py with that venv's ansible-playbook.
# ANSIBLE_MATRIX_STEPS picks steps (default "sanity units integration"), ANSIBLE_MATRIX_PLAYS the
# plays, ANSIBLE_MATRIX_SANITY_ARGS and ANSIBLE_MATRIX_UNITS_ARGS go to ansible-test;
# ANSIBLE_MATRIX_PYTHON_2_16=/path/to/python (dots as _) picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

version=${1:?usage: ansible_matrix.sh VERSION CACHE}
cache=$(realpath -m "${2:?usage: ansible_matrix.sh VERSION CACHE}")
steps=${ANSIBLE_MATRIX_STEPS:-sanity units integration}
# The plays of tests/integration/collection/test_render_playbook.py run (pytest -k): the render
# action in check mode with diff, for real and again (idempotence), and the vrrp role's plan step
# with its lock. ANSIBLE_MATRIX_PLAYS="" runs them all.
plays=${ANSIBLE_MATRIX_PLAYS-test_render_check_mode_then_real_then_idempotent or test_plan_step_writes_a_lock_that_keeps_vrids}

# Controller Pythons of each release (its docs' support matrix) that the runtime also runs on
# (>= 3.11), the oldest first: the oldest is the one tested.
case "$version" in
  2.16 | 2.17) minors="11 12" ;;
  2.18 | 2.19) minors="11 12 13" ;;
  2.20 | 2.21) minors="12 13 14" ;;
  *) echo "ansible_matrix: no known controller Python for ansible-core $version" >&2; exit 2 ;;
esac

# The real executable of an interpreter that is 3.M and not a venv's (make puts .venv/bin first on
# PATH; pyenv has shims for versions that are not installed); nothing otherwise.
real_python() {
  [ -x "$1" ] && "$1" -c "import sys
if sys.version_info[:2] == (3, $2) and sys.prefix == sys.base_prefix: print(sys.executable)" 2>/dev/null
}

pick_python() {
  local override="ANSIBLE_MATRIX_PYTHON_${version//./_}" m cand
  if [ -n "${!override:-}" ]; then
    echo "${!override}"
    return
  fi
  for m in $minors; do
    for cand in "$(command -v "python3.$m" || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$m".*/bin/python3."$m" "/usr/bin/python3.$m"; do
      if [ -n "$cand" ] && real_python "$cand" "$m" | grep .; then
        return
      fi
    done
  done
  local list
  list=$(for m in $minors; do printf '3.%s ' "$m"; done)
  echo "ansible_matrix: ansible-core $version needs one of Python ${list% } as its controller" \
    "(a release it supports that the runtime runs on too); none found on PATH, in \$PYENV_ROOT/versions or /usr/bin." \
    "Install one, or set ANSIBLE_MATRIX_PYTHON_${version//./_}=/path/to/python3.X." >&2
  exit 2
}

# pip, quiet but for its errors (this machine's pip.conf adds find-links it warns about).
pip_install() {
  local rc=0
  "$venv/bin/pip" install -q --disable-pip-version-check "$@" >"$venv/pip.log" 2>&1 || rc=$?
  grep -v "^WARNING: Location" "$venv/pip.log" >&2 || true
  return "$rc"
}

python=$(pick_python)
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
venv=$cache/ansible-core-$version
stamp=$venv/.matrix-stamp
want="$(cat tests/requirements-matrix.txt runtime/pyproject.toml | sha256sum | cut -c1-16) $python"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo ">> ansible-core $version: venv $venv (Python $pyver, $python)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip_install -U pip
  pip_install "ansible-core==$version.*" -r tests/requirements-matrix.txt -e ./runtime
  echo "$want" >"$stamp"
fi
BIN=$venv/bin
export PATH="$BIN:$PATH"
core=$("$BIN/python" -c 'from ansible.release import __version__; print(__version__)')
case "$core" in
  "$version".*) ;;
  *) echo "ansible_matrix: $venv has ansible-core $core, not $version.*" >&2; exit 1 ;;
esac

# A collection tree of its own (ansible-test writes tests/output there), outside the work tree.
coll=${TMPDIR:-/tmp}/vipkeeper-coll-$(echo "$ROOT" | md5sum | cut -c1-8)-$version/ansible_collections/vipkeeper/vrrp
rm -rf "$coll" && mkdir -p "$coll"
rsync -a --delete --exclude-from=tests/tools/collection-excludes.txt \
  --exclude-from=tests/tools/sanity-excludes.txt ./ "$coll/"

for step in $steps; do
  start=$SECONDS
  case "$step" in
    sanity)
      # Seed ansible-test's pip bootstrap as `make sanity` does (see the Makefile).
      pipv=$("$BIN/python" -c "import types, ansible_test._internal.python_requirements as r; \
        print(r.get_venv_packages(types.SimpleNamespace(version='$pyver'))['pip'].replace('.', '_'))")
      boot="$HOME/.ansible/test/cache/get_pip_$pipv.py"
      [ -s "$boot" ] || { mkdir -p "$(dirname "$boot")" && cp tests/sanity/bootstrap_pip.py "$boot"; }
      echo ">> ansible-core $core: ansible-test sanity (Python $pyver)"
      (cd "$coll" && "$BIN/ansible-test" sanity --python "$pyver" --color no ${ANSIBLE_MATRIX_SANITY_ARGS:-})
      ;;
    units)
      echo ">> ansible-core $core: ansible-test units (Python $pyver)"
      (cd "$coll" && "$BIN/ansible-test" units --python "$pyver" --color no --requirements-mode skip \
        --local ${ANSIBLE_MATRIX_UNITS_ARGS:-})
      ;;
    integration)
      echo ">> ansible-core $core: the render play (ansible-playbook in namespaces)"
      VIPKEEPER_COLLECTIONS_PATH=$(cd "$coll/../../.." && pwd) "$BIN/python" -m pytest -q \
        -p no:cacheprovider tests/integration/collection/test_render_playbook.py -k "$plays"
      ;;
    *) echo "ansible_matrix: unknown step $step" >&2; exit 2 ;;
  esac
  echo ">> ansible-core $core: $step took $((SECONDS - start)) s"
done
echo ">> ansible-core $core: $steps passed"
