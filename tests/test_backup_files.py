"""Backups are new files only their owner can read or change: a destination of another user is
refused, a link at the destination is not followed, an older 0644 backup becomes 0600, and a
``DEST.part`` another user planted never receives the backup (locally and from a device).  The
tests run as root (like the SSH tests), so "another user" is a file chowned to nobody (65534)."""
from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from GenerateMeterData import InputError, LocalTarget, Scenario
from GenerateMeterData.targets.ssh import DeviceTarget
from helpers import table_checksums

END = dt.date(2026, 3, 1)
NOBODY = 65534
FOREIGN = b"another user's file\n"

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                                reason="making a file of another user needs root")


@pytest.fixture(params=["local", "device"])
def backup_of(request, tmp_path):
    """``backup_of(destination)``: a backup of a seeded meter.db, from a LocalTarget or over SSH."""
    if request.param == "local":
        source = str(tmp_path / "source.db")
        Scenario(meters=1, days=1, end=END).create(LocalTarget(source))

        def run(destination):
            LocalTarget(source).backup(str(destination))
    else:
        device = request.getfixturevalue("device")
        source = device.path
        Scenario(meters=1, days=1, end=END).create(LocalTarget(source))

        def run(destination):
            with DeviceTarget(device.settings(stage_dir=str(tmp_path))) as target:
                target.backup(str(destination))
    run.source = source
    return run


def foreign_file(path, mode=0o666):
    path.write_bytes(FOREIGN)
    os.chown(path, NOBODY, NOBODY)
    os.chmod(path, mode)  # chmod after chown: a world-writable file of another user


def leftovers(folder):
    return sorted(name for name in os.listdir(folder) if name.startswith(".gmd-backup-"))


@needs_root
def test_a_destination_of_another_user_is_refused_in_one_line(backup_of, tmp_path):
    destination = tmp_path / "backup.db"
    foreign_file(destination)
    with pytest.raises(InputError, match=r"backup .*backup.db exists and belongs to another user \(uid 65534\); "
                                         "nothing was written") as caught:
        backup_of(destination)
    assert "\n" not in str(caught.value)
    assert destination.read_bytes() == FOREIGN and os.stat(destination).st_uid == NOBODY
    assert leftovers(tmp_path) == []


@needs_root
def test_a_part_file_another_user_planted_never_receives_the_backup(backup_of, tmp_path):
    destination = tmp_path / "backup.db"
    part = tmp_path / "backup.db.part"
    foreign_file(part)
    backup_of(destination)
    assert part.read_bytes() == FOREIGN and os.stat(part).st_uid == NOBODY  # untouched
    info = os.stat(destination)
    assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o600, os.geteuid())
    assert table_checksums(str(destination)) == table_checksums(backup_of.source)
    assert leftovers(tmp_path) == []


def test_an_old_0644_backup_is_replaced_by_a_0600_one(backup_of, tmp_path):
    destination = tmp_path / "backup.db"
    destination.write_bytes(b"an older backup")
    os.chmod(destination, 0o644)
    backup_of(destination)
    assert stat.S_IMODE(os.stat(destination).st_mode) == 0o600
    assert table_checksums(str(destination)) == table_checksums(backup_of.source)


def test_a_link_at_the_destination_is_replaced_not_followed(backup_of, tmp_path):
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_bytes(b"not a backup")
    os.chmod(elsewhere, 0o644)
    destination = tmp_path / "backup.db"
    destination.symlink_to(elsewhere)
    backup_of(destination)
    assert elsewhere.read_bytes() == b"not a backup"
    assert not destination.is_symlink() and stat.S_IMODE(os.stat(destination).st_mode) == 0o600
    assert table_checksums(str(destination)) == table_checksums(backup_of.source)


@needs_root
def test_a_link_of_another_user_at_the_destination_is_refused(backup_of, tmp_path):
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(b"")
    destination = tmp_path / "backup.db"
    destination.symlink_to(elsewhere)
    os.lchown(destination, NOBODY, NOBODY)
    with pytest.raises(InputError, match="belongs to another user"):
        backup_of(destination)
    assert destination.is_symlink() and elsewhere.read_bytes() == b""
