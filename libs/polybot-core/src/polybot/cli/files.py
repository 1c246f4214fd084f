"""File arguments (a recording, ``--config``, ``sim --replay``): a readable regular file, or why not.

Each way a path can fail gets its own message: empty, missing, a missing or non-directory parent, a
directory, a device (``/dev/null``), a FIFO or socket, a broken symbolic link, unreadable.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from polybot.cli.failures import CliError, describe

_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "an unusual kind of file"


def _missing(path: Path, what: str) -> CliError:
    if path.is_symlink():
        return CliError(f"{path} is a broken symbolic link (its target {os.readlink(path)} does not exist): "
                        f"give the {what} itself")
    parent = path.parent
    if str(parent) not in ("", ".") and not parent.exists():
        return CliError(f"no such file: {path} (there is no directory {parent}): check the {what} path")
    return CliError(f"no such file: {path}: check the {what} path")


def readable_file(text: str, what: str) -> Path:
    """``text`` as the path of a regular file this process can read; ``CliError`` saying why not.

    ``what`` names the file in messages (``"recording"``, ``"config file"``).
    """
    if not text.strip():
        raise CliError(f"the {what} path is empty: give the path of a file")
    path = Path(text)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _missing(path, what) from None
    except NotADirectoryError:
        raise CliError(f"no such file: {path} (a part of its path is a file, not a directory): "
                       f"check the {what} path") from None
    except PermissionError:
        raise CliError(f"cannot read the {what} {path}: permission denied on a directory of its path") from None
    except OSError as exc:  # a name too long, a symlink loop
        raise CliError(f"cannot open the {what} {path}: {describe(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise CliError(f"{path} is a directory, not a {what}: give a file in it")
    if not stat.S_ISREG(st.st_mode):
        kind = _kind(st.st_mode)
        raise CliError(f"{path} is {kind}, not a regular file: give the {what} itself")
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise CliError(f"cannot read the {what} {path}: permission denied (check its permissions)") from None
    except OSError as exc:
        reason = "permission denied" if exc.errno == errno.EACCES else describe(exc)
        raise CliError(f"cannot read the {what} {path}: {reason}") from None
    return path
