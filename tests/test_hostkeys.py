"""Host keys against the real loopback sshd: accept-new always remembers the key (so a changed
key is refused next time), appending keeps every other line byte for byte and is safe under
concurrent writers, @revoked keys are refused and @cert-authority lines do not stop the reading."""
from __future__ import annotations

import datetime as dt
import os

import paramiko
import pytest

from GenerateMeterData import ConnectError, Scenario
from GenerateMeterData.targets.executor import Executor, append_known_host
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import all_at_once

END = dt.date(2026, 3, 1)


def server_line(device) -> str:
    key_type, key = open(device.server.host_key + ".pub").read().split()[:2]
    return f"[127.0.0.1]:{device.server.port} {key_type} {key}"


def test_accept_new_without_known_hosts_remembers_the_key_in_the_users_file(device, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = device.settings(known_hosts=None, host_key_policy="accept-new")
    Executor(settings).connect().close()
    saved = (tmp_path / ".ssh" / "known_hosts").read_text()
    assert saved == server_line(device) + "\n"
    assert oct(os.stat(tmp_path / ".ssh").st_mode & 0o777) == "0o700"
    # the same device with another key now: refused, although accept-new is set
    impostor = paramiko.Ed25519Key.generate() if hasattr(paramiko.Ed25519Key, "generate") else None
    if impostor is None:
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives import serialization
        raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode().split()[1]
    else:
        raw = impostor.get_base64()
    (tmp_path / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{device.server.port} ssh-ed25519 {raw}\n")
    with pytest.raises(ConnectError, match="CHANGED"):
        Executor(settings).connect()


def test_appending_keeps_every_other_line_byte_for_byte(device, tmp_path):
    other = open(device.server.client_key + ".pub").read().split()
    original = ("# my hosts\n"
                f"@cert-authority *.example.org {other[0]} {other[1]}\n"
                f"sensor.example.org {other[0]} {other[1]} trailing comment kept\n"
                "gateway sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAAAAA== x\n"
                f"@revoked old.example.org {other[0]} {other[1]}\n"
                "|1|abc=|def= ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ")  # no newline at the end
    path = tmp_path / "known_hosts"
    path.write_text(original)
    with DeviceTarget(device.settings(known_hosts=str(path), host_key_policy="accept-new")) as target:
        Scenario(meters=1, days=1, end=END).create(target)
    assert path.read_text() == original + "\n" + server_line(device) + "\n"


def test_a_revoked_host_key_is_refused(device, tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text("@revoked " + server_line(device) + "\n")
    for policy in ("accept-new", "reject"):
        with pytest.raises(ConnectError, match="@revoked"):
            Executor(device.settings(known_hosts=str(path), host_key_policy=policy)).connect()
    assert path.read_text() == "@revoked " + server_line(device) + "\n"


def test_concurrent_accepts_lose_no_key(tmp_path):
    path = str(tmp_path / "known_hosts")
    keys = [paramiko.RSAKey.generate(1024) for _ in range(8)]
    _, errors = all_at_once(lambda index: append_known_host(path, f"[10.0.0.{index}]:22", keys[index]),
                            range(len(keys)))
    assert errors == []
    lines = open(path).read().splitlines()
    assert sorted(lines) == sorted(f"[10.0.0.{i}]:22 ssh-rsa {key.get_base64()}" for i, key in enumerate(keys))
