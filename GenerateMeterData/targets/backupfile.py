"""Where a backup is written: a backup holds the meters' passwords, and may be restored onto a
device, so nobody but its owner may read or change it -- also in a shared folder, also when a
file of that name (or a link) is already there.

The backup is written into a new file in a private folder (0700, made beside the destination,
so the last step is one rename on the same filesystem), created exclusively (``O_EXCL``, no
link followed, 0600), and renamed over the destination only once it is complete.  A destination
that belongs to another user is refused; a link at the destination is replaced, never followed;
an older backup of the same user is replaced by a new 0600 file whatever its mode was."""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from typing import Iterator

from ..errors import InputError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def refuse_foreign(destination: str) -> None:
    """One line when ``destination`` exists and belongs to another user (its directory entry:
    a link is judged by itself, not by what it points at)."""
    try:
        info = os.lstat(destination)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot write the backup to {destination}: {exc.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"backup {destination} is a directory; give a file name")
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise InputError(f"backup {destination} exists and belongs to another user (uid {info.st_uid}); "
                         "nothing was written; remove it or choose another file")


@contextlib.contextmanager
def new_backup(destination: str) -> Iterator[str]:
    """Yields the path of a new, empty, 0600 file to write the backup into; when the block
    ends without an error it is moved over ``destination``, else it goes."""
    refuse_foreign(destination)
    folder = os.path.dirname(os.path.abspath(destination))
    try:
        private = tempfile.mkdtemp(prefix=".gmd-backup-", dir=folder)  # 0700, ours alone
    except OSError as exc:
        raise InputError(f"cannot write the backup to {destination}: {exc.strerror}") from None
    try:
        path = os.path.join(private, "backup.db")
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600))
        yield path
        refuse_foreign(destination)  # again: another user may have put a file there meanwhile
        try:
            os.replace(path, destination)
        except OSError as exc:
            raise InputError(f"cannot write the backup to {destination}: {exc.strerror}") from None
    finally:
        shutil.rmtree(private, ignore_errors=True)
