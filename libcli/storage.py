"""Where libcli keeps its files, and how it writes them safely.

- Directories come from platformdirs, overridable with LIBCLI_CONFIG_DIR,
  LIBCLI_CACHE_DIR and LIBCLI_DATA_DIR (tests, scripts, several profiles).
- Files are written atomically (temporary file in the same directory, fsync,
  rename) with mode 0600 in 0700 directories, so a killed process leaves the
  previous version intact and no other user can read a session cookie.
- A file with looser permissions is warned about, not silently used.
- Writers of the same file serialise on an flock'ed lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, Iterator

from libcli.errors import ConfigError

APP = "libcli"


# Where the XDG base-directory defaults apply, as every platformdirs version
# computes them on Linux: $HOME/.config, .cache, .local/share.
_XDG_DEFAULTS = {"config": ("XDG_CONFIG_HOME", ".config"), "cache": ("XDG_CACHE_HOME", ".cache"),
                 "data": ("XDG_DATA_HOME", ".local/share")}


def _dir(kind: str) -> Path:
    override = os.environ.get(f"LIBCLI_{kind.upper()}_DIR")
    if override:
        return Path(override)
    # The common case on Linux, answered without importing platformdirs (its
    # Unix module brings tempfile, pathlib helpers and more: ~10 ms at every
    # start). Anything else (an XDG variable set, another system, Android, an
    # odd HOME) is platformdirs' to decide.
    var, default = _XDG_DEFAULTS[kind]
    home = os.environ.get("HOME", "")
    if (sys.platform == "linux" and not os.environ.get(var) and home.startswith("/")
            and not hasattr(sys, "getandroidapilevel") and "ANDROID_DATA" not in os.environ):
        return Path(home.rstrip("/") or "/", default, APP)
    import platformdirs

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP))


def config_dir() -> Path:
    return _dir("config")


def cache_dir() -> Path:
    return _dir("cache")


def data_dir() -> Path:
    return _dir("data")


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


def atomic_write(path: Path, text: str) -> None:
    ensure_dir(path.parent)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path.lock` (blocking) for a read-modify-write."""
    ensure_dir(path.parent)
    lock = path.with_name(path.name + ".lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_json(path: Path, *, what: str) -> Any | None:
    """Read a JSON file libcli owns; None when it does not exist.

    A file that is unreadable or not JSON raises ConfigError naming it; the
    file is left as it is for the person to inspect.
    """
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.__class__.__name__}") from None
    check_permissions(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"the {what} {path} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            "it was left untouched",
            hint="fix or move the file away, then run the command again",
        ) from None


def read_cache(path: Path) -> Any | None:
    """Read a cache file; a damaged cache is discarded (it is rebuilt)."""
    try:
        data = read_json(path, what="cache file")
    except ConfigError:
        with contextlib.suppress(OSError):
            path.unlink()
        print(f"libcli: warning: discarded the damaged cache file {path}", file=sys.stderr)
        return None
    return data
