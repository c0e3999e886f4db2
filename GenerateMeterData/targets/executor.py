"""Run commands on a device over SSH (paramiko): host keys verified by default, every wait with a
deadline, stdout and stderr drained on their own threads while stdin is written, remote paths
shell-quoted by the caller with ``shlex.quote``.  Passwords never reach a log or an error."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Set, Union

from ..errors import ConnectError, RemoteError
from ..settings import DeviceSettings

log = logging.getLogger("GenerateMeterData.ssh")
#: How long one receive waits before the reader looks at the deadline again (seconds).
RECEIVE_POLL = 1.0
#: A command that ``settle``s: once its exit status arrived, how long its output may stay
#: quiet, and how long it may go on at most, before the wait for the end of its output stops
#: (a daemon it started in the background holds its stdout open for ever).
SETTLE_IDLE = 1.0
SETTLE_MAX = 5.0
#: What one send to a command's stdin takes at most (an SSH packet's worth of data).
SEND_CHUNK = 32768
#: A command's stdin is paced: the next send waits while more than half the window the device
#: offered, plus one send, is in flight (sent and not yet given back) -- and, once the device
#: gave window back, more than twice the smallest step it did so in (at least PACED_MIN).
#: OpenSSH's sshd grows its buffers a step at a time, copying them whole each time, while a
#: client fills the 2 MiB window it offers: the first multi-MB upload of a connection cost
#: 95-130 ms for 3.6 MB on the loopback sshd, later ones 13-30 ms; paced, the first takes 18-26 ms
#: (OpenSSH's own client, unpaced: 160 ms, then 25-35 ms).  A server gives window back at the
#: latest when half is used (OpenSSH after 3 packets); one that waits longer ends the pacing of
#: that command (PACE_STALL).  A device offering a small window (dropbear: 24 KiB) is paced by
#: its window alone.
#: The least bound once the device's step is known (OpenSSH gives back ~96-128 KiB at a time).
PACED_MIN = 256 * 1024
#: How long the window may stay shut while paced before pacing stops for that command (the
#: device's command may also be slow to start reading: pacing resumes with the next command).
PACE_STALL = 0.25
#: How often a paced send looks at the window again (seconds).
PACE_POLL = 0.0005
_warned_accept_new: Set[str] = set()


@dataclass
class Result:
    """Exit status and output of one remote command."""

    status: int
    stdout: bytes
    stderr: bytes

    def text(self) -> str:
        """stdout as text."""
        return self.stdout.decode("utf-8", "replace")

    def error_text(self) -> str:
        """stderr as text, stripped."""
        return self.stderr.decode("utf-8", "replace").strip()


class RemoteProcess:
    """One remote command: write to its stdin while its output is drained in the background."""

    def __init__(self, channel, command: str, host: str, timeout: float,
                 sink: Optional[Callable[[bytes], None]] = None) -> None:
        self.channel = channel
        self.sink = sink  # stdout goes here as it arrives (a download), not into memory
        self.command = command
        self.host = host
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        #: a resident command lives across many exchanges, each with its own deadline
        #: (``renew``): its readers wait for output however long it is idle between them
        self.resident = False
        self._stdout = bytearray()
        self._stderr = bytearray()
        self._changed = threading.Condition()
        self._eof = {"out": False, "err": False}
        self._last_output = time.monotonic()
        #: the window the device offered when the command started (what is sent beyond it and
        #: not given back is in flight) and the bytes in flight at most; None once pacing stopped
        self._window: Optional[int] = getattr(channel, "out_window_size", None)
        self._in_flight = (self._window or 0) // 2 + SEND_CHUNK
        self._seen = self._window or 0  # the window after the last send
        self._readers = [threading.Thread(target=self._drain, args=("out",), daemon=True),
                         threading.Thread(target=self._drain, args=("err",), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _drain(self, which: str) -> None:
        receive = self.channel.recv if which == "out" else self.channel.recv_stderr
        buffer = self._stdout if which == "out" else self._stderr
        while True:
            try:
                data = receive(65536)
            except socket.timeout:
                # a closed channel still returns what it buffered, then b"": read on to that
                # end; only a command past its deadline is given up on
                if time.monotonic() > self.deadline and not self.resident:
                    break
                continue
            except Exception:  # the transport died: what we have is all there is
                break
            if not data:
                break
            with self._changed:
                self._last_output = time.monotonic()
            if which == "out" and self.sink is not None:
                try:
                    self.sink(data)
                except Exception as exc:  # a full local disk: stop the command, say why
                    self.sink_error = exc
                    self.abort()
                    break
                continue
            with self._changed:
                buffer.extend(data)
                self._changed.notify_all()
        with self._changed:
            self._eof[which] = True
            self._changed.notify_all()

    sink_error: Optional[BaseException] = None

    def renew(self, timeout: float) -> None:
        """A resident command's next exchange: a new deadline, and the output read so far
        handed over and forgotten (``take``)."""
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout

    def take(self) -> Result:
        """The output so far (exit status -1: the command still runs), forgotten here."""
        with self._changed:
            result = Result(-1, bytes(self._stdout), bytes(self._stderr))
            self._stdout.clear()
            self._stderr.clear()
        return result

    def ended(self) -> bool:
        """The command ended (or its channel closed, or its output reached its end)."""
        with self._changed:
            if self._eof["out"]:
                return True
        return self.channel.closed or self.channel.exit_status_ready()

    def text(self) -> str:
        """stdout so far, as text."""
        with self._changed:
            return self._stdout.decode("utf-8", "replace")

    #: The command ended before it read all it was sent (``test -f db || exit 66`` does):
    #: the rest was dropped, and its exit status and stderr are the answer.
    input_refused = False

    def write(self, data: bytes) -> None:
        """Send bytes to the command's stdin (with the command's deadline).  A command that has
        already ended takes nothing more: the bytes are dropped (``input_refused``) and
        ``finish`` tells its exit status -- not a lost connection."""
        view = memoryview(data)
        while view and not self.input_refused:
            if time.monotonic() > self.deadline:
                raise RemoteError(f"{self.host}: command timed out after {self.timeout:g} s while sending data",
                                  host=self.host)
            self._pace()
            before = self._seen
            try:
                sent = self.channel.send(view[:SEND_CHUNK])
            except socket.timeout:
                continue
            except Exception as exc:
                if self._ended():
                    return
                raise ConnectError(f"{self.host}: connection lost while sending data ({exc.__class__.__name__})",
                                   host=self.host, reason="connection lost") from None
            if sent == 0:
                if self._ended():
                    return
                raise ConnectError(f"{self.host}: connection lost while sending data", host=self.host,
                                   reason="connection lost")
            view = view[sent:]
            self._seen = before - sent  # what the device gives back meanwhile is seen as such

    def _pace(self) -> None:
        """Wait until at most ``_in_flight`` bytes are in flight -- or stop pacing this command
        when the window stayed shut for PACE_STALL, or the command ended or passed its deadline
        (the send that follows then says what happened).  Once the device gave window back, the
        bound is twice the smallest step it did so in (at least PACED_MIN): it gives back again
        before that much is in flight."""
        channel, offered = self.channel, self._window
        if offered is None:
            return
        window = channel.out_window_size
        since = time.monotonic()
        while True:
            if window > self._seen:  # steps seen together look larger: the smallest is the device's
                self._in_flight = min(self._in_flight, max(PACED_MIN, 2 * (window - self._seen)) + SEND_CHUNK)
            self._seen = window
            if offered - window <= self._in_flight:
                return
            now = time.monotonic()
            if now - since > PACE_STALL or now > self.deadline or channel.closed:
                self._window = None
                return
            time.sleep(PACE_POLL)
            if channel.out_window_size != window:
                window, since = channel.out_window_size, time.monotonic()

    def _ended(self) -> bool:
        """After a failed send: True (and ``input_refused``) when the command ended on its own --
        the device sent EOF and closed the channel over a live connection -- rather than the
        connection being lost."""
        # The device sent the command's exit status, its EOF and its CLOSE, in that order.  (A
        # dying connection closes the channel too, and paramiko's exit_status_ready() is true
        # then -- but no exit status arrived: exit_status stays -1.  The transport may still look
        # active for a moment while it unlinks its channels, so that alone proves nothing.)
        channel = self.channel
        transport = getattr(channel, "transport", None)
        if transport is not None and transport.is_active() and channel.closed and channel.eof_received \
                and getattr(channel, "exit_status", -1) != -1:
            self.input_refused = True
        return self.input_refused

    def abort(self) -> None:
        """Close the channel, quietly: on a dead connection closing raises (EOFError) too."""
        try:
            self.channel.close()
        except Exception:
            pass

    def close_stdin(self) -> None:
        """Send EOF to the command."""
        try:
            self.channel.shutdown_write()
        except Exception:
            pass

    def _settle(self) -> None:
        """Wait for the end of the output, or until it stayed quiet SETTLE_IDLE seconds (at
        most SETTLE_MAX after the exit status; never past the deadline)."""
        exited = time.monotonic()
        limit = min(self.deadline, exited + SETTLE_MAX)
        with self._changed:
            while not (self._eof["out"] and self._eof["err"]):
                now = time.monotonic()
                if now >= limit or now - max(self._last_output, exited) >= SETTLE_IDLE:
                    return
                self._changed.wait(0.1)

    def wait_for(self, marker: bytes, timeout: Optional[float] = None) -> bool:
        """True once ``marker`` appeared on stdout; False if the command ended or the wait expired."""
        limit = min(self.deadline, time.monotonic() + timeout) if timeout else self.deadline
        with self._changed:
            while marker not in self._stdout:
                if self._eof["out"] or time.monotonic() >= limit:
                    return marker in self._stdout
                self._changed.wait(min(0.2, max(0.0, limit - time.monotonic())))
        return True

    def finish(self, settle: bool = False) -> Result:
        """Wait (with the command's deadline) for the exit status and all output -- with
        ``settle`` (a hook), only until the output stays quiet after the exit status arrived
        (``SETTLE_IDLE``, at most ``SETTLE_MAX``): what a daemon the command left running
        prints later is not the command's, and its open stdout must not hold the caller."""
        # paramiko sets status_event when the exit status arrives or the channel closes: wait on
        # it, no polling
        if not self.channel.status_event.wait(max(0.0, self.deadline - time.monotonic())):
            self.abort()
            raise RemoteError(f"{self.host}: command did not finish within {self.timeout:g} s",
                              host=self.host)
        if settle:
            self._settle()
        for reader in self._readers:  # all output: the readers end at the channel's EOF
            reader.join(0.1 if settle else max(0.1, self.deadline - time.monotonic()))
        status = self.channel.recv_exit_status() if self.channel.exit_status_ready() else -1
        self.abort()
        return Result(status, bytes(self._stdout), bytes(self._stderr))


class Executor:
    """An SSH connection to one device."""

    def __init__(self, settings: DeviceSettings) -> None:
        self.settings = settings
        self.client: Optional[Any] = None  # a paramiko.SSHClient while connected (paramiko has no types)

    @property
    def where(self) -> str:
        """user@host:port."""
        return self.settings.where

    def connect(self) -> "Executor":
        """Connect and authenticate; one clear ConnectError on any failure."""
        import paramiko

        s = self.settings
        client = paramiko.SSHClient()
        known_hosts = s.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        revoked = load_known_hosts(client.get_host_keys(), known_hosts)
        if s.host_key_policy == "accept-new":
            # the accepted key is always remembered (the user's known_hosts by default), so a
            # key that changes later is refused like any other changed key
            client.set_missing_host_key_policy(_AcceptNewPolicy(known_hosts, revoked))
        else:
            client.set_missing_host_key_policy(_RejectPolicy(revoked))
        kwargs = dict(hostname=s.host, port=s.port, username=s.user, timeout=s.connect_timeout,
                      banner_timeout=s.connect_timeout, auth_timeout=s.connect_timeout,
                      channel_timeout=s.connect_timeout)
        if s.password is not None:
            kwargs["password"] = s.password
        if s.key_filename:
            kwargs["key_filename"] = s.key_filename
        kwargs["allow_agent"] = not (s.key_filename or s.password)
        kwargs["look_for_keys"] = not (s.key_filename or s.password)
        if s.disabled_algorithms:
            kwargs["disabled_algorithms"] = {"pubkeys": list(s.disabled_algorithms)}
        try:
            client.connect(**kwargs)
        except paramiko.BadHostKeyException:
            raise ConnectError(f"{s.where}: the host key CHANGED since it was recorded in {known_hosts}; "
                               "refusing to connect (remove the old key only if the device was really replaced)",
                               host=s.host, port=s.port, reason="host key changed") from None
        except paramiko.AuthenticationException:
            how = "key" if s.key_filename and s.password is None else "password"
            raise ConnectError(f"{s.where}: authentication failed for user {s.user!r} (wrong {how}?)",
                               host=s.host, port=s.port, reason="authentication failed") from None
        except paramiko.SSHException as exc:
            text = str(exc)
            if "not found in known_hosts" in text:
                raise ConnectError(f"{s.where}: unknown host key (not in {known_hosts}); add it with ssh-keyscan, "
                                   "or set host_key_policy = accept-new to trust it on first use",
                                   host=s.host, port=s.port, reason="unknown host key") from None
            if "protocol banner" in text or "No existing session" in text:
                raise ConnectError(f"{s.where}: no SSH server answers there (a silent or non-SSH service on port "
                                   f"{s.port}?); check IP_address and IP_port", host=s.host, port=s.port, reason="no SSH server") from None
            raise ConnectError(f"{s.where}: SSH failed: {text.splitlines()[0] if text else exc.__class__.__name__}",
                               host=s.host, port=s.port, reason="SSH failed") from None
        except (socket.timeout, TimeoutError):
            raise ConnectError(f"{s.where}: no answer within {s.connect_timeout:g} s (host down or filtered?)",
                               host=s.host, port=s.port, reason="timeout") from None
        except OSError as exc:
            raise ConnectError(f"{s.where}: cannot reach the device ({exc.strerror or exc})",
                               host=s.host, port=s.port, reason="unreachable") from None
        transport = client.get_transport()
        if transport is not None:
            if s.keepalive:
                transport.set_keepalive(s.keepalive)
            with contextlib.suppress(OSError, AttributeError):  # small requests leave at once
                transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = client
        return self

    def close(self) -> None:
        """Close the connection."""
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def start(self, command: str, timeout: Optional[float] = None,
              sink: Optional[Callable[[bytes], None]] = None) -> RemoteProcess:
        """Start a command (no pty: data must pass unaltered)."""
        client = self.client if self.client is not None else self.connect().client
        assert client is not None  # connect() sets it or raises
        transport = client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectError(f"{self.where}: the SSH connection is closed", host=self.settings.host,
                               port=self.settings.port, reason="connection closed")
        try:
            channel = transport.open_session(timeout=self.settings.connect_timeout)
            channel.settimeout(RECEIVE_POLL)
            channel.exec_command(command)
        except Exception as exc:
            raise ConnectError(f"{self.where}: cannot start a command ({exc.__class__.__name__}: {exc})",
                               host=self.settings.host, port=self.settings.port,
                               reason="cannot start a command") from None
        return RemoteProcess(channel, command, self.where, timeout or self.settings.command_timeout, sink)

    def run(self, command: str, stdin: Union[None, bytes, Iterable[bytes]] = None,
            timeout: Optional[float] = None, settle: bool = False) -> Result:
        """Run a command to its end, feeding ``stdin`` (bytes or chunks) while draining output
        (``settle``: see ``RemoteProcess.finish``)."""
        process = self.start(command, timeout)
        try:
            if stdin is not None:
                for chunk in ([stdin] if isinstance(stdin, (bytes, bytearray)) else stdin):
                    process.write(chunk)
            process.close_stdin()
            return process.finish(settle)
        except BaseException:
            process.abort()
            raise

    def alive(self) -> bool:
        """True while the transport is up."""
        transport = self.client.get_transport() if self.client else None
        return bool(transport and transport.is_active())


def load_known_hosts(host_keys: Any, path: str) -> List[Any]:
    """Read an OpenSSH known_hosts file into paramiko's host keys, line by line: lines paramiko
    cannot use (``@cert-authority``, unknown key types) are skipped, ``@revoked`` keys are
    returned so they can be refused.  A file that cannot be opened at all is one clear error."""
    import paramiko

    revoked: List[Any] = []  # paramiko keys
    if not os.path.exists(path):
        return revoked
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ConnectError(f"known_hosts file {path} cannot be read: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        marker = line.split(None, 1)[0] if line.startswith("@") else ""
        if marker == "@cert-authority":
            continue  # certificate authorities: paramiko does not check host certificates
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line.split(None, 1)[1] if marker else line, number)
        except Exception:  # a line of a key type this paramiko does not know: not ours to judge
            entry = None
        if entry is None or entry.key is None:
            continue
        if marker == "@revoked":
            revoked.append(entry.key)
            continue
        for name in entry.hostnames:
            host_keys.add(name, entry.key.get_name(), entry.key)
    return revoked


def _refuse_revoked(hostname: str, key, revoked: list) -> None:
    if any(key == bad for bad in revoked):
        raise ConnectError(f"{hostname}: the device's host key is marked @revoked in known_hosts; refusing to connect")


class _RejectPolicy:
    """Unknown host keys are refused (the default)."""

    def __init__(self, revoked: list) -> None:
        self.revoked = revoked

    def missing_host_key(self, client, hostname, key) -> None:
        """Refuse, saying how to trust the device."""
        import paramiko

        _refuse_revoked(hostname, key, self.revoked)
        raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts")


class _AcceptNewPolicy:
    """Trust an unknown host key on first use (explicit opt-in), say so once, remember it by
    appending one line to known_hosts (other lines stay byte for byte; concurrent writers are
    serialised with a lock)."""

    def __init__(self, save_to: str, revoked: list) -> None:
        self.save_to = save_to
        self.revoked = revoked

    def missing_host_key(self, client, hostname, key) -> None:
        """Accept and remember an unknown key (opt-in), saying so once per host."""
        _refuse_revoked(hostname, key, self.revoked)
        fingerprint = sha256_fingerprint(key)
        if hostname not in _warned_accept_new:
            _warned_accept_new.add(hostname)
            log.warning("accepting new host key %s %s for %s (host_key_policy = accept-new)",
                        key.get_name(), fingerprint, hostname)
        try:
            append_known_host(self.save_to, hostname, key)
        except OSError as exc:
            raise ConnectError(f"{hostname}: cannot remember the accepted host key in {self.save_to} "
                               f"({exc.strerror}); set known_hosts to a writable file") from None
        client.get_host_keys().add(hostname, key.get_name(), key)


def sha256_fingerprint(key) -> str:
    """A host key's fingerprint as OpenSSH shows it (``ssh-keygen -l``): ``SHA256:`` and the
    unpadded base64 of the SHA-256 of the key's wire blob."""
    import base64
    import hashlib

    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode("ascii").rstrip("=")


def append_known_host(path: str, hostname: str, key) -> None:
    """Append ``hostname keytype base64`` to a known_hosts file under an exclusive lock,
    unless another writer just recorded a key for that host (then that key is checked)."""
    import paramiko

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # no flock on this platform: appending stays one write
            pass
        existing = paramiko.HostKeys()
        size = os.fstat(handle).st_size
        text = os.pread(handle, size, 0).decode("utf-8", "replace") if size else ""
        for line in text.splitlines():
            entry = None
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line.strip()) if line.strip() and \
                    not line.lstrip().startswith(("#", "@")) else None
            except Exception:
                entry = None
            if entry is not None and entry.key is not None:
                for name in entry.hostnames:
                    existing.add(name, entry.key.get_name(), entry.key)
        known = existing.lookup(hostname)
        if known is not None and key.get_name() in known:
            if known[key.get_name()] != key:
                raise ConnectError(f"{hostname}: another process just recorded a different host key in {path}; "
                                   "refusing to connect")
            return
        prefix = "\n" if text and not text.endswith("\n") else ""
        os.write(handle, f"{prefix}{hostname} {key.get_name()} {key.get_base64()}\n".encode())
    finally:
        os.close(handle)
