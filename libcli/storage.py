"""Where libcli keeps its files, and how it writes them safely.

- Directories come from platformdirs (user_config_dir, user_cache_dir,
  user_data_dir for "libcli"), overridable with LIBCLI_CONFIG_DIR,
  LIBCLI_CACHE_DIR and LIBCLI_DATA_DIR (tests, scripts, several profiles).
- Files are written atomically (temporary file in the same directory, fsync,
  rename) with mode 0600 in 0700 directories, so a killed process leaves the
  previous version intact and no other user can read a session cookie.
  Temporary files are named `.NAME.XXXXXXXX.libcli-tmp`; ones a killed
  process left behind (older than a minute) are removed by the next write in
  their directory and by `clean_stale_temp`.
- A file with looser permissions is warned about, not silently used.
- Caches and lock files are never reached through a symbolic link
  (O_NOFOLLOW, as git does for its lock files), and a cache directory that
  other users can write to, or that another user owns, is not used. The
  config file may be a symbolic link (dotfiles): it is written through the
  link to its target.
- Writers of the same file serialise on an flock'ed lock file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import stat
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from libcli.errors import ConfigError

APP = "libcli"
TMP_SUFFIX = ".libcli-tmp"
STALE_TMP_SECONDS = 60
# Temporary files of earlier versions (tempfile.mkstemp's random part, ".tmp").
_OLD_TMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")


def _dir(kind: str) -> Path:
    override = os.environ.get(f"LIBCLI_{kind.upper()}_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP))


def config_dir() -> Path:
    return _dir("config")


def cache_dir() -> Path:
    return _dir("cache")


def data_dir() -> Path:
    return _dir("data")


_said: set[str] = set()


def warn(message: str) -> None:
    """A warning on stderr, once per message per process (a cache that cannot
    be written is worth one line, not one per card)."""
    if message in _said:
        return
    _said.add(message)
    from libcli.text import clean

    print(f"libcli: warning: {clean(message)}", file=sys.stderr)


def ensure_dir(path: Path) -> Path:
    """Create `path` and every missing parent 0700 (mkdir's `parents=True`
    would make the parents 0755: ~/.cache/libcli readable by others)."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            pass
    return path


_warned: set[Path] = set()


def check_permissions(path: Path) -> None:
    """Warn (once per file) when others may read a file libcli keeps private."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and path not in _warned:
        _warned.add(path)
        print(
            f"libcli: warning: {path} is readable by other users "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}",
            file=sys.stderr,
        )


def clean_stale_temp(directory: Path, *, older_than: float = STALE_TMP_SECONDS) -> int:
    """Remove temporary files a killed libcli left in `directory` (older than
    a minute, so a write in progress in another process is left alone)."""
    removed = 0
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or not (name.endswith(TMP_SUFFIX) or _OLD_TMP.match(name)):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass
    return removed


def atomic_write(path: Path, text: str, *, follow_symlink: bool = False) -> None:
    """Replace `path` with `text` atomically (0600). A symbolic link at `path`
    is replaced by the file, never followed, unless `follow_symlink` (the
    config file kept in a dotfiles repository): then its target is written."""
    if follow_symlink and path.is_symlink():
        path = Path(os.path.realpath(path))
    ensure_dir(path.parent)
    clean_stale_temp(path.parent)
    tmp = path.parent / f".{path.name}.{os.urandom(4).hex()}{TMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


def write_json(path: Path, data: Any, *, follow_symlink: bool = False,
               encode: Callable[[Any], str] | None = None) -> None:
    """`encode`: the caller's own JSON encoder (msgspec for snapshots)."""
    text = (encode(data) if encode is not None
            else json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    atomic_write(path, text, follow_symlink=follow_symlink)


def _open_lock(path: Path) -> int:
    """The lock file for `path` (`path.lock`), created 0600, never through a
    symbolic link: a planted link would make libcli create or truncate its
    target. Errors are ConfigError naming the file."""
    lock = path.with_name(path.name + ".lock")
    try:
        ensure_dir(path.parent)
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"the lock file {lock} is a symbolic link; libcli does not "
                              "follow it", hint=f"remove it: rm {lock}") from None
        raise ConfigError(f"cannot create the lock file {lock}: {exc.strerror}") from None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path.lock` (blocking) for a read-modify-write."""
    fd = _open_lock(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


class WriteLock:
    """An account's lock across processes (`path.lock`), which also counts
    the writes made under it: a process notes the count before it reads the
    account (`peek`), and finds under the lock whether another process wrote
    since (`acquire` returns True then), so that it reads again instead of
    acting on what it read before (a renewal used twice).

    The wait is bounded and polls without blocking the event loop: the other
    cards of the run go on."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def peek(self) -> int | None:
        """The write count now; None when a writer holds the lock (what is
        read now may change under us) or the lock cannot be read."""
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            return _count(fd)
        finally:
            os.close(fd)

    async def acquire(self, seen: int | None, timeout: float) -> bool:
        """Take the lock (waiting at most `timeout` seconds, else TimeoutError);
        True when the account may have changed since `seen` was peeked."""
        import asyncio

        fd = _open_lock(self.path)
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise TimeoutError(str(self.path)) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
        self._fd = fd
        return seen is None or _count(fd) != seen

    def release(self) -> None:
        """Count this write and let the next writer in."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            data = str(_count(fd) + 1).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:
            pass  # a full disk: the next writer reads again (count unreadable)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _count(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0) or b"0")
    except (OSError, ValueError):
        return -1


def check_private_dir(path: Path) -> None:
    """Refuse a cache directory that other users may write to, or that
    another user owns (followed if it is a symbolic link): they could plant
    or swap session files there. ConfigError names the directory."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"cannot use the cache directory {path}: {exc.strerror}") from None
    where = f"{path}" + (f" (a link to {os.path.realpath(path)})" if path.is_symlink() else "")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"the cache directory {where} is writable by other users "
                          f"(mode {stat.S_IMODE(st.st_mode):04o}); libcli does not use it",
                          hint=f"run: chmod 700 {path}")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise ConfigError(f"the cache directory {where} belongs to another user "
                          f"(uid {st.st_uid}); libcli does not use it")


def check_cache_dirs(path: Path) -> None:
    root = cache_dir()
    d = path.parent
    while True:
        check_private_dir(d)
        if d == root or root not in d.parents:
            break
        d = d.parent


def read_json(path: Path, *, what: str, follow_symlink: bool = True,
              decode: Callable[[bytes], Any] | None = None) -> Any | None:
    """Read a JSON file libcli owns; None when it does not exist.

    A file that is unreadable or not JSON raises ConfigError naming it; the
    file is left as it is for the person to inspect. Without
    `follow_symlink` (caches), a symbolic link is not followed. `decode`:
    the caller's own JSON decoder (msgspec for snapshots); its ValueError
    is "not valid JSON".
    """
    try:
        flags = os.O_RDONLY | os.O_CLOEXEC | (0 if follow_symlink else os.O_NOFOLLOW)
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
            text = raw.decode("utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(f"the {what} {path} is a symbolic link; libcli does not "
                              "follow it") from None
        raise ConfigError(f"cannot read the {what} {path}: {exc.__class__.__name__}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.__class__.__name__}") from None
    check_permissions(path)
    try:
        return json.loads(text) if decode is None else decode(raw)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
    except ValueError as exc:
        where = str(exc)
    raise ConfigError(
        f"the {what} {path} is not valid JSON ({where}); it was left untouched",
        hint="fix or move the file away, then run the command again",
    ) from None


def read_cache(path: Path, *, decode: Callable[[bytes], Any] | None = None) -> Any | None:
    """Read a cache file; a damaged cache is discarded (it is rebuilt). A
    cache in a directory others can write to is not read (a warning)."""
    try:
        check_cache_dirs(path)
    except ConfigError as exc:
        warn(exc.message)
        return None
    try:
        data = read_json(path, what="cache file", follow_symlink=False, decode=decode)
    except ConfigError:
        with contextlib.suppress(OSError):
            path.unlink()
        warn(f"discarded the damaged cache file {path}")
        return None
    return data


def write_cache(path: Path, data: Any, *, encode: Callable[[Any], str] | None = None) -> bool:
    """Write a cache file; a cache that cannot be written (a full disk, a
    read-only or unsafe directory) is a warning, never a failed command:
    the result the person asked for is still printed. True when written."""
    try:
        check_cache_dirs(path)
        write_json(path, data, encode=encode)
        return True
    except ConfigError as exc:
        warn(exc.message)
    except OSError as exc:
        warn(f"could not write the cache file {path}: {exc.strerror or exc}")
    return False
