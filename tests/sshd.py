"""A real OpenSSH server on a loopback port: the device stand-in of the SSH tests.

It uses generated host and client keys, no SFTP subsystem (like many devices), the stock
sqlite3 binary, and a meter.db created from the shipped schema.  A small TCP proxy in front of
it lets a test cut the network in the middle of a transfer."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from typing import List, Optional

from linkdrop import pump

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def available() -> Optional[str]:
    """None when the stand-in can run here, else why not."""
    if not os.path.exists(SSHD):
        return "openssh-server is not installed (tests/run.sh installs it as root)"
    if not shutil.which("sqlite3"):
        return "the sqlite3 binary is not installed (tests/run.sh installs it as root)"
    if not shutil.which("ssh-keygen"):
        return "ssh-keygen is not installed"
    if os.geteuid() != 0:
        return "the sshd stand-in needs root (it logs the test in as the current user via sshd's privilege separation)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SSHServer:
    """sshd -D on 127.0.0.1:port with its own keys and config, stopped by ``stop()``."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.host_key = os.path.join(workdir, "host_ed25519")
        self.client_key = os.path.join(workdir, "client_ed25519")
        self.known_hosts = os.path.join(workdir, "known_hosts")
        self.authorized_keys = os.path.join(workdir, "authorized_keys")
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "SSHServer":
        for key in (self.host_key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        shutil.copy(self.client_key + ".pub", self.authorized_keys)
        os.chmod(self.workdir, 0o755)  # authorized_keys is read as the logging-in user
        os.makedirs("/run/sshd", exist_ok=True)
        config = os.path.join(self.workdir, "sshd_config")
        with open(config, "w") as handle:
            handle.write(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {self.workdir}/sshd.pid
AuthorizedKeysFile {self.authorized_keys}
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
PermitRootLogin yes
StrictModes no
UsePAM no
MaxStartups 50
MaxSessions 50
LogLevel ERROR
""")
        self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.workdir, "sshd.log"), "wb"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(4).startswith(b"SSH-"):
                        break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("sshd did not start: " + open(os.path.join(self.workdir, "sshd.log")).read())
        public = open(self.host_key + ".pub").read().split()
        with open(self.known_hosts, "w") as handle:
            handle.write(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")
        return self

    def known_hosts_for(self, port: int) -> str:
        """A known_hosts file that also names this server's key at another port (a proxy)."""
        path = os.path.join(self.workdir, f"known_hosts_{port}")
        public = open(self.host_key + ".pub").read().split()
        with open(path, "w") as handle:
            handle.write(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
        return path

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(10)


class CuttableProxy:
    """Forwards 127.0.0.1:port to the server; ``cut()`` drops every open connection at once
    (new ones are still accepted), as a network failure would."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sockets: List[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        pump(source, sink, close=False)  # cut() closes them

    def cut(self) -> None:
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()


PASSWORD_USER = DEVICE_USER = "gmdtest"


def device_user() -> Optional[str]:
    """A throw-away login whose shell is plain /bin/sh, like a device's busybox (root here runs
    bash with a .bashrc that costs ~0.2 s per command).  None where it cannot be made."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        return None
    if subprocess.run(["id", DEVICE_USER], capture_output=True).returncode != 0:
        if subprocess.run(["useradd", "-M", "-d", "/tmp", "-s", "/bin/sh", DEVICE_USER],
                          capture_output=True).returncode != 0:
            return None
    # useradd leaves the account locked ("!"), and sshd refuses even key logins then; "*" means
    # "no password login" without the lock (password_user() sets a real one when it needs it)
    status = subprocess.run(["passwd", "-S", DEVICE_USER], capture_output=True, text=True).stdout.split()
    if len(status) > 1 and status[1] == "L":
        subprocess.run(["usermod", "-p", "*", DEVICE_USER], capture_output=True)
    return DEVICE_USER


def password_user() -> Optional[str]:
    """The device user with a fresh random password (for the password-authentication test).

    Returns the password, or None where no such user can be made (not root, no useradd)."""
    import secrets
    if device_user() is None or not shutil.which("chpasswd"):
        return None
    password = "pw%" + secrets.token_hex(8)
    done = subprocess.run(["chpasswd"], input=f"{PASSWORD_USER}:{password}\n", text=True, capture_output=True)
    return password if done.returncode == 0 else None
