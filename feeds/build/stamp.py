"""The no-op stamp: what the last `feeds build` made of its command line.

A build with nothing to do should cost little more than starting Python, but
the up-to-date check needs the config, and reading a config (PyYAML,
pydantic's models) costs several times the check itself. So each build that
read its config leaves a stamp: what the check needs of it
(`uptodate.Expected`) and where its state folder is, under a key of
everything the config's meaning depends on: the options that shape it, the
working folder (relative paths), the environment variables the defaults and
the time zone check read, the config file's identity and bytes, feeds's
code, the libraries that read a config and Python's version; the folders'
places, which the config checks on the disk, are checked again by
`feeds.build.quick`. That module answers from the stamp before
click, pydantic or PyYAML is imported; any difference in the key and the
full command line runs, which stamps again.

A cache like the parse cache, beside it: in the folder the command line and
the environment name for it (``--cache-dir``, else `default_cache_dir`, even
when the config keeps its cache elsewhere), and only where a ``cache_dir``
may be: never the output folder, which is served. One file per command line and
working folder, written atomically, plain data (``marshal``) checked field
by field before it is trusted: a corrupt, foreign or hostile stamp is
ignored, never executed. Not covered: the time zone database itself (a
zone removed from it would make the config refuse its `timezone`).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from feeds import __version__
from feeds.build.parsecache import default_cache_dir
from feeds.build.uptodate import Expected
from feeds.system.folders import folder_problems
from feeds.system.regular import open_regular, read_regular

if TYPE_CHECKING:  # a stamp is saved with the config in hand, read without it
    from feeds.config import Config

#: Bump when the stamp's layout or what its key covers changes.
FORMAT = 1
_MAGIC = f"feeds-noop-stamp/{FORMAT}"
#: `feeds.config.DEFAULT_CONFIG_PATH`, read when present and no ``--config``
#: is given (tests/build/test_quick.py holds the two alike).
DEFAULT_CONFIG = "config/feeds.yaml"
#: What a config's meaning reads from the environment: the default cache and
#: state folders (and the home folder beneath them), the time zones known.
ENVIRONMENT = (
    "HOME",
    "CACHE_DIRECTORY",
    "XDG_CACHE_HOME",
    "STATE_DIRECTORY",
    "XDG_STATE_HOME",
    "PYTHONTZPATH",
    "TZ",
)
#: What reads a config and gives it its meaning and digest, beside feeds's code.
CONFIG_LIBRARIES = ("yaml", "pydantic", "pydantic_core")
_FEEDS = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Invocation:
    """The options of `feeds build` that shape its config, as click gives
    them (``str`` of its paths); -q and -v change only what is printed."""

    config: str | None = None
    seeds: str | None = None
    output: str | None = None
    cache_dir: str | None = None
    strict: bool = False

    @property
    def folder(self) -> Path:
        """Where its stamp is: known from the command line and the environment."""
        return Path(self.cache_dir) if self.cache_dir is not None else default_cache_dir()

    def path(self) -> Path:
        where = repr((os.getcwd(), self, _environment()))
        name = hashlib.sha256(where.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        return self.folder / f"noop-{name}.stamp"


@dataclass(frozen=True, slots=True)
class Stamp:
    expected: Expected
    #: Where `feeds run` keeps its state: the config refuses it in the output folder.
    state_dir: Path


def key_of(invocation: Invocation) -> str | None:
    """The digest of everything the config's meaning depends on for
    ``invocation``; None when its config file cannot be read (the full
    command line says why)."""
    config = invocation.config
    if config is None and os.path.isfile(DEFAULT_CONFIG):
        config = DEFAULT_CONFIG
    try:
        parts = (
            _MAGIC,
            __version__,
            sys.version,
            os.getcwd(),
            invocation,
            _environment(),
            None if config is None else _file_identity(config),
            _code(),
            _libraries(),
        )
    except (OSError, ValueError):  # ValueError: a NUL in a path
        return None
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


def load(invocation: Invocation) -> Stamp | None:
    """The stamp of ``invocation`` while its key holds; None when there is
    none, or it is of another key, damaged or not a stamp at all."""
    key = key_of(invocation)
    if key is None:
        return None
    try:
        data = marshal.loads(read_regular(invocation.path()))  # noqa: S302 - checked below
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return _decode(data, key)


def save(invocation: Invocation, key: str, config: Config) -> None:
    """Stamps what ``config`` means for ``invocation``, when ``key`` (taken
    before the config was read) still holds: a config edited meanwhile
    may not be the one that was read."""
    from feeds.config import state_dir_of  # loaded already, with the config

    if key_of(invocation) != key:
        return
    expected = Expected.of(config)
    folder = invocation.folder
    if folder != expected.cache_dir and folder_problems(expected.seeds, expected.output, folder):
        return  # only where the config could keep its cache: never served, never a seed
    data = marshal.dumps(
        (
            _MAGIC,
            key,
            str(expected.seeds),
            expected.patterns,
            expected.strict,
            str(expected.output),
            str(expected.cache_dir),
            expected.cache_identity,
            expected.config_digest,
            str(state_dir_of(config)),
        )
    )
    try:
        path = invocation.path()
    except OSError:  # the working folder is gone
        return
    if _stored(path) != data:
        _write(path, data)


def _stored(path: Path) -> bytes | None:
    try:
        return read_regular(path)
    except (OSError, ValueError):
        return None


def _decode(data: object, key: str) -> Stamp | None:
    if not (isinstance(data, tuple) and len(data) == 10 and data[:2] == (_MAGIC, key)):
        return None
    _, _, seeds, patterns, strict, output, cache_dir, identity, digest, state_dir = data
    paths = (seeds, output, cache_dir, state_dir)
    if not all(isinstance(path, str) and path and "\0" not in path for path in paths):
        return None
    if not (isinstance(patterns, tuple) and patterns and all(_text(p) for p in patterns)):
        return None
    if not (isinstance(strict, bool) and _text(identity) and _text(digest)):
        return None
    expected = Expected(
        seeds=Path(seeds),
        patterns=patterns,
        strict=strict,
        output=Path(output),
        cache_dir=Path(cache_dir),
        cache_identity=identity,
        config_digest=digest,
    )
    return Stamp(expected, Path(state_dir))


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _write(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` whole or not at all; a stamp is an
    optimisation, so failing to write one fails nothing."""
    import tempfile  # only a full build writes a stamp

    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
        os.replace(temp, path)
    except (OSError, ValueError):  # not a word: a build logs what it logged before stamps
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _file_identity(path: str) -> tuple[object, ...]:
    """Which file ``path`` is and what it holds; raises OSError when it is
    not a regular file that can be read."""
    descriptor, info = open_regular(path)
    with os.fdopen(descriptor, "rb") as stream:
        data = stream.read()
    return (
        path,
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        hashlib.sha256(data).hexdigest(),
    )


def _environment() -> tuple[object, ...]:
    # The uid: with HOME unset, the home folder is the user's passwd entry.
    return (os.getuid(), *(os.environ.get(name) for name in ENVIRONMENT))


def _libraries() -> list[tuple[str, int, int] | None]:
    """The libraries that read a config, by their top module's (path, size,
    mtime_ns): another release may read the same file otherwise (found,
    not imported)."""
    from importlib.machinery import PathFinder

    found: list[tuple[str, int, int] | None] = []
    for name in CONFIG_LIBRARIES:
        spec = PathFinder.find_spec(name)
        origin = None if spec is None else spec.origin
        info = None if origin is None else os.stat(origin)
        found.append(None if info is None else (str(origin), info.st_size, info.st_mtime_ns))
    return found


def _code() -> list[tuple[str, int, int]]:
    """Each module of feeds by (path, size, mtime_ns): code edited without a
    new version (a checkout, an editable install) may read a config otherwise."""
    found = []
    folders = [str(_FEEDS)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    info = entry.stat()
                    found.append((entry.path, info.st_size, info.st_mtime_ns))
                elif entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                    folders.append(entry.path)
    return sorted(found)
