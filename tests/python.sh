# Sourced (`. tests/python.sh`) by the README's first command and by tests/run.sh: chooses the
# Python the package is installed into and sets PYTHON to it.
#   1. $PYTHON when it is set;
#   2. else python3 when it may install packages: it runs inside a virtualenv, or its
#      distribution allows a system-wide `pip install` (no PEP 668 EXTERNALLY-MANAGED marker
#      beside its standard library) and it has pip;
#   3. else the virtualenv ./.venv, created with that python3 when missing (as root, Debian's
#      python3-venv is installed first when the venv module cannot make one), and activated,
#      so `python3` and `generatemeterdata` in this shell are the venv's.
# Written for sh, bash and zsh: being sourced, it sets no shell options and never exits the
# caller's shell; it returns non-zero (with one line saying why) when no usable Python is found.

_gmd_python() {
    if [ -n "${PYTHON:-}" ]; then
        return 0
    fi
    _gmd_base=$(command -v python3 2>/dev/null) || _gmd_base=""
    if [ -z "$_gmd_base" ]; then
        echo "error: python3 not found; install Python 3.9 or newer (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
        return 1
    fi
    # what stops this python3 from taking a `pip install` ("" when nothing does)
    _gmd_refusal=$("$_gmd_base" -c '
import importlib.util, os, sys, sysconfig
if sys.version_info < (3, 9):
    print("old")
elif sys.prefix != sys.base_prefix:
    print("")
elif os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")):
    print("its distribution manages its packages (PEP 668: EXTERNALLY-MANAGED)")
elif importlib.util.find_spec("pip") is None:
    print("it has no pip")
else:
    print("")
' 2>/dev/null) || _gmd_refusal="old"
    if [ "$_gmd_refusal" = "old" ]; then
        echo "error: $_gmd_base is older than Python 3.9 (or does not run); install Python 3.9 or newer" >&2
        return 1
    fi
    if [ -z "$_gmd_refusal" ]; then
        PYTHON=$_gmd_base
        return 0
    fi
    _gmd_venv="$(pwd)/.venv"
    if [ ! -x "$_gmd_venv/bin/python" ]; then
        echo "creating the virtualenv $_gmd_venv: $_gmd_base cannot install packages ($_gmd_refusal)" >&2
        if ! "$_gmd_base" -m venv "$_gmd_venv" >/dev/null 2>&1; then
            rm -rf "$_gmd_venv"
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
                echo "installing python3-venv ..." >&2
                apt-get update -qq >/dev/null 2>&1
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null 2>&1
            fi
            if ! "$_gmd_base" -m venv "$_gmd_venv" >&2; then
                rm -rf "$_gmd_venv"
                echo "error: cannot create the virtualenv $_gmd_venv (Debian/Ubuntu: apt-get install python3-venv)" >&2
                return 1
            fi
        fi
    else
        echo "using the virtualenv $_gmd_venv ($_gmd_base cannot install packages: $_gmd_refusal)" >&2
    fi
    # shellcheck disable=SC1091
    . "$_gmd_venv/bin/activate" || return 1
    PYTHON="$_gmd_venv/bin/python"
    echo "in a new shell, '. .venv/bin/activate' first" >&2
    return 0
}

_gmd_python
_gmd_status=$?
unset -f _gmd_python
unset _gmd_base _gmd_refusal _gmd_venv
if [ "$_gmd_status" = 0 ]; then
    unset _gmd_status
    export PYTHON
    true
else
    unset _gmd_status
    false
fi
