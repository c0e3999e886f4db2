#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them.
#   - Python packages: the package itself (editable) with its [test] extra, into the Python
#     tests/python.sh chooses ($PYTHON, else python3, else a ./.venv it creates: PEP 668 systems)
#   - openssh-server and sqlite3: the device stand-in the SSH tests start on a loopback port
# Extra arguments go to pytest (e.g. `bash tests/run.sh -k ssh`).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
{ [ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1; } || missing+=(openssh-server)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${missing[*]} ..." >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "warning: ${missing[*]} missing and cannot be installed here (not root or no apt-get);" \
             "the tests that need them will be skipped" >&2
    fi
fi

# PYTHON: the given one, else python3 when it may install, else ./.venv (PEP 668 systems)
. tests/python.sh || exit 1
if ! installed=$("$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1); then
    printf '%s\n' "$installed" >&2
    echo "error: $PYTHON -m pip could not install the package with its [test] extra (above)" >&2
    exit 1
fi
printf '%s\n' "$installed" | grep -v -i -e "running pip as the 'root' user" -e '^$' >&2 || true
exec "$PYTHON" -m pytest "$@"
