#!/bin/sh
# A user's view of the testing kit: a fresh virtualenv with only the package and its
# `testing` extra (no dev tools), running the example user test in docs/user-tests against
# the runware_emulator fixture that the package registers with pytest.
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-testing-kit.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt ".[testing]"
cp -r docs/user-tests "$work/tests"
cd "$work/tests"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider
