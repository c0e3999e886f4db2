"""An ARM device stand-in anyone can start: the device's ``sqlite3`` as an armhf binary run under
qemu user-mode emulation, so the SSH benchmarks and tests meet a sqlite3 about as slow as the
UM-40's (a small ARM board) instead of this x86 machine's.

Built from Debian packages, nothing compiled:

- ``qemu-user-static`` (installed with apt-get when missing and we are root);
- the armhf ``sqlite3`` and the libraries it loads (``libsqlite3-0 libc6 libreadline8 zlib1g
  libtinfo6 libgcc-s1``), fetched with ``apt-get download`` after ``dpkg --add-architecture armhf``
  and extracted with ``dpkg-deb -x`` into DIR/root (no armhf package is installed on the machine);
- a wrapper DIR/sqlite3 that runs the armhf loader under qemu with the extracted library path.

Point a device's ``sqlite3`` key at the wrapper (settings.ini: ``sqlite3 = DIR/sqlite3``); the
benchmarks take ``--device arm`` and the SSH tests take ``GMD_TEST_DEVICE_SQLITE3=DIR/sqlite3``.

    python bench/arm_device.py [--dir DIR]      prints the wrapper's path (builds it once)

The speed of the stand-in is what qemu makes of this machine: steady CPU work plausibly within 2x of
a ~1 GHz Cortex-A7 (emulation here runs 10-20x slower than native; a Cortex-A7 board is published
at 10-11x behind a desktop x86 core), and a process start costs ~50 ms instead of ~3 ms.  It is a
stand-in for the device's CPU, not for its flash storage or its busybox shell."""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from typing import List, Optional

PACKAGES = ("sqlite3", "libsqlite3-0", "libc6", "libreadline8", "zlib1g", "libtinfo6", "libgcc-s1")
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".arm-device")
QEMU = "qemu-arm-static"

WRAPPER = """#!/bin/sh
# The device's sqlite3 as an armhf binary under qemu user-mode emulation (bench/arm_device.py).
R={root}
exec {qemu} "$R/lib/ld-linux-armhf.so.3" --library-path "$R/lib/arm-linux-gnueabihf:$R/usr/lib/arm-linux-gnueabihf" "$R/usr/bin/sqlite3" "$@"
"""


class BuildError(Exception):
    """The stand-in cannot be built here (the message says why)."""


def _run(argv: List[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def _qemu() -> str:
    found = shutil.which(QEMU)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BuildError(f"{QEMU} is missing; install the Debian package qemu-user-static (needs root and apt-get)")
    _run(["apt-get", "update", "-qq"])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    done = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "qemu-user-static"],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0 or not shutil.which(QEMU):
        raise BuildError(f"could not install qemu-user-static: {done.stderr.strip()[-400:]}")
    return shutil.which(QEMU) or QEMU


def _fetch(root: str) -> None:
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise BuildError("apt-get and dpkg-deb are needed to fetch the armhf packages (a Debian-like system)")
    if "armhf" not in _run(["dpkg", "--print-foreign-architectures"]).split():
        if os.geteuid() != 0:
            raise BuildError("the armhf architecture is not enabled and we are not root "
                             "(dpkg --add-architecture armhf && apt-get update)")
        _run(["dpkg", "--add-architecture", "armhf"])
        _run(["apt-get", "update", "-qq"])
    download = ["apt-get", "download", *(f"{p}:armhf" for p in PACKAGES)]
    with tempfile.TemporaryDirectory() as debs:
        os.chmod(debs, 0o755)  # apt-get download drops to the _apt user where it can
        done = subprocess.run(download, cwd=debs, capture_output=True, text=True)
        if done.returncode != 0 and os.geteuid() == 0:  # package lists older than the armhf ones
            _run(["apt-get", "update", "-qq"])
            done = subprocess.run(download, cwd=debs, capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"apt-get download failed: {done.stderr.strip()[-400:]}")
        for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
            _run(["dpkg-deb", "-x", deb, root])


def build(directory: Optional[str] = None) -> str:
    """The wrapper's path; builds the stand-in in ``directory`` once (then only checks it runs)."""
    directory = os.path.abspath(directory or DEFAULT_DIR)
    wrapper = os.path.join(directory, "sqlite3")
    root = os.path.join(directory, "root")
    qemu = _qemu()
    if not os.path.exists(os.path.join(root, "usr", "bin", "sqlite3")):
        os.makedirs(directory, exist_ok=True)
        staging = tempfile.mkdtemp(prefix="root.", dir=directory)
        try:
            _fetch(staging)
            if os.path.exists(root):
                shutil.rmtree(root)
            os.rename(staging, root)
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging)
    with open(wrapper + ".tmp", "w") as out:
        out.write(WRAPPER.format(root=root, qemu=qemu))
    os.chmod(wrapper + ".tmp", 0o755)
    os.replace(wrapper + ".tmp", wrapper)
    # the device user of the SSH stand-in (not root) must reach the wrapper and the tree
    for path in (directory, root):
        os.chmod(path, 0o755)
    check(wrapper)
    return wrapper


def check(wrapper: str) -> str:
    """The version the wrapped sqlite3 reports, and that it is an ARM binary run by qemu."""
    done = subprocess.run([wrapper, ":memory:", "SELECT sqlite_version();"], capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0:
        raise BuildError(f"the armhf sqlite3 does not run: {done.stderr.strip()[-400:]}")
    root = open(wrapper).read().split("R=", 1)[1].split("\n", 1)[0]
    with open(os.path.join(root, "usr", "bin", "sqlite3"), "rb") as binary:
        header = binary.read(20)
    if header[:4] != b"\x7fELF" or int.from_bytes(header[18:20], "little") != 40:  # e_machine 40 = EM_ARM
        raise BuildError(f"{root}/usr/bin/sqlite3 is not an ARM ELF binary")
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description="build the ARM sqlite3 device stand-in; prints its wrapper path")
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"where to build it (default {DEFAULT_DIR})")
    args = parser.parse_args()
    try:
        wrapper = build(args.dir)
    except (BuildError, OSError, subprocess.SubprocessError) as exc:
        sys.exit(f"error: {exc}")
    print(f"armhf sqlite3 {check(wrapper)} under qemu: {wrapper}", file=sys.stderr)
    print(wrapper)


if __name__ == "__main__":
    main()
