#!/usr/bin/env bash
# The test command: installs what the tests need, then runs them.
#   - Python packages: the package itself (editable) with its [test] extra
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

PYTHON=${PYTHON:-python3}
"$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v -i "running pip as the 'root' user" || true
"$PYTHON" -m pip show -q GenerateMeterData >/dev/null   # fail here, loudly, if the install did not happen
exec "$PYTHON" -m pytest "$@"
