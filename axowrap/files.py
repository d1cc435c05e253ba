"""Files in and out, safely: the one place axowrap opens a user's file or writes one.

Reading (`read_bytes`, `read_text`): regular files only, opened without blocking (a FIFO or
a device named as a spec is refused at once instead of hanging or reading forever), and
bounded in size. Writing (`atomic_write`): a temp file in the same folder, fsynced, moved into
place with os.replace, then the folder fsynced, so a crash leaves the old file or the new one;
the file keeps the mode of the one it replaces (a new one gets the umask's); a symlink is
written through (the link stays); and a target that is not a regular file (`-o /dev/null`,
`/dev/stdout`, a FIFO) is written through, never replaced by a regular file.
"""

from __future__ import annotations

import contextvars
import errno
import os
import stat
from pathlib import Path

from axowrap.errors import AxowrapError, SpecError

# `axowrap --allow-outside`: specs may read (extends, data check) outside their repo.
ALLOW_OUTSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("allow_outside", default=False)

MAX_TEXT_BYTES = 256 << 10  # specs, configs, run-directory records: far above any real one (~1-10 KB)
_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def kind(mode: int) -> str:
    """`a FIFO (named pipe)`, `a directory`, ... for a stat mode."""
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def read_bytes(path: Path, what: str = "file", limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of the regular file at `path`; SpecError when it is missing, not a regular
    file, unreadable or larger than `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} not found", hint="check the path") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, expected a {what}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {_why(exc)}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SpecError(f"{path}: is a directory, expected a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"{path}: is {kind(info.st_mode)}, not a regular file", hint=f"give the {what} itself")
        if info.st_size > limit:
            raise SpecError(
                f"{path}: {info.st_size:,} bytes; a {what} may have at most {limit:,}",
                hint="is this the right file?",
            )
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew while we read it
                raise SpecError(f"{path}: more than {limit:,} bytes; a {what} may have at most {limit:,}")
        return b"".join(chunks)
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {_why(exc)}") from None
    finally:
        os.close(fd)


def read_text(path: Path, what: str = "file", limit: int = MAX_TEXT_BYTES) -> str:
    """`read_bytes` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    data = read_bytes(path, what, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(
            f"{path}: not UTF-8 text (byte {exc.start}, line {line})", hint="save the file as UTF-8"
        ) from None


def regular_file(path: Path) -> bool:
    """Whether `path` is a regular file (False for anything that cannot be looked at)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def exists(path: Path) -> bool:
    """Path.exists() that answers False instead of raising (a name too long, a symlink loop...)."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable (where the filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_through(path: Path, data: bytes, mode: int) -> None:
    """Write into an existing non-regular file (a device, a FIFO with a reader) without replacing it."""
    if stat.S_ISDIR(mode):
        raise AxowrapError(f"{path}: is a directory, cannot write a file there", hint="give a file name")
    if stat.S_ISSOCK(mode) or stat.S_ISBLK(mode):
        raise AxowrapError(f"{path}: is {kind(mode)}; refusing to write to it", hint="give a regular file name")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise AxowrapError(
                f"{path}: is a FIFO that nobody reads; refusing to wait for a reader",
                hint="start the reader first, or give a regular file name",
            ) from None
        raise AxowrapError(f"{path}: cannot write: {_why(exc)}") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise AxowrapError(f"{path}: cannot write: {_why(exc)}") from None
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` so that readers never see half a file (see the module docstring)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    path = Path(path)
    try:
        info: os.stat_result | None = os.stat(path)  # through symlinks (/dev/stdout -> /proc/self/fd/1)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise AxowrapError(f"{path}: cannot write: {_why(exc)}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_through(path, data, info.st_mode)
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path  # the link stays a link
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~umask()
    try:
        import tempfile  # here: tempfile brings shutil and bz2 (~5 ms of every command's start)

        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:200]}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise AxowrapError(f"{path}: cannot write: {_why(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise AxowrapError(f"{path}: cannot write: {_why(exc)}") from None
        raise
    fsync_dir(target.parent)
