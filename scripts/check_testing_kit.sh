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
# The pins of that Python: constraints.txt was frozen on 3.11, the others have their own.
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pins=constraints/dev-py$version.txt
[ "$version" = 3.11 ] && pins=constraints.txt
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$pins" ".[testing]"
cp -r docs/user-tests "$work/tests"
cd "$work/tests"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider
