"""Where feeds may write and what it may serve.

The output folder is written (files replaced, stale feeds removed) and served
over HTTP, so a mistaken ``output`` is dangerous: ``/etc`` was served and
written to, ``/`` served ``/etc/xml/...``, the seeds folder got feeds among
its articles. The config is refused when a folder is one of these; and
feeds writes and serves only a folder it made itself, which it marks with
a dotfile (never served).

Kept apart from the writer and the server so that the config, the up-to-date
check and the server can import it cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

#: In every output folder feeds writes; the server answers only from such a folder.
MARKER = ".made-by-feeds"
MARKER_TEXT = (
    b"This folder is written by feeds, which replaces and removes the feed files in it.\n"
    b"feeds serves and writes only a folder holding this file.\n"
)

#: The operating system's own: these folders and everything in them.
_SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
    "/sbin", "/sys", "/usr", "/System", "/private/etc",
)  # fmt: skip
#: Folders that hold other programs' or people's folders: these themselves only
#: (``/var/lib/feeds/output`` or ``/srv/feeds/output`` are fine).
_SHARED_FOLDERS = (
    "/", "/home", "/root", "/var", "/var/lib", "/var/cache", "/var/log", "/var/spool",
    "/var/mail", "/var/backups", "/var/opt", "/var/local", "/var/www", "/run", "/srv",
    "/opt", "/mnt", "/media", "/Users", "/Library", "/Applications", "/Volumes",
    "/private", "/private/var",
    "/tmp", "/var/tmp", "/private/tmp",  # noqa: S108 - names to refuse, never used
)  # fmt: skip
#: systemd's folders for a service: the output may be inside one, never one itself.
_SERVICE_FOLDERS = {
    "STATE_DIRECTORY": "the service's state folder",
    "CACHE_DIRECTORY": "the service's cache folder",
    "LOGS_DIRECTORY": "the service's logs folder",
    "CONFIGURATION_DIRECTORY": "the service's configuration folder",
    "RUNTIME_DIRECTORY": "the service's runtime folder",
}
#: Files every build of every version writes at the top of the output folder:
#: a folder holding all three was made by feeds before the marker existed.
SIGNATURE = ("index.html", "feeds.opml", "all.atom.xml")


def folder_problems(
    seeds: Path,
    output: Path,
    cache_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """What is wrong with writing ``output`` and ``cache_dir`` beside ``seeds``,
    one ``key: why`` line each; empty when nothing is. Paths are compared as
    resolved (symlinks followed), so no spelling gets around a rule."""
    environ = os.environ if environ is None else environ
    try:
        out, seeds_at, cache = _real(output), _real(seeds), _real(cache_dir)
    except ValueError:  # a NUL byte
        return ["output, seeds or cache_dir: not a usable path"]
    shown = f"output: {output}"
    if str(out) != os.path.normpath(os.path.abspath(output)):
        shown += f" (that is {out})"
    system = _system_reason(out)
    return [
        *_output_problems(shown, out, system, seeds_at, seeds),
        *_output_and_cache_problems(shown, out, cache, cache_dir),
        *_service_folder_problems(shown, out, system, cache, environ),
        *_cache_problems(cache, cache_dir, seeds_at, seeds),
    ]


def placement_problems(seeds: Path, output: Path, cache_dir: Path, state_dir: Path) -> list[str]:
    """Everything wrong with where a config puts its folders, one ``key: why``
    line each: what `feeds.config.load_config` refuses, and what
    `feeds.build.quick` checks again before it answers from a stamp."""
    problems = folder_problems(seeds, output, cache_dir)
    foreign = foreign_problem(output)
    if foreign is not None:
        problems.append(foreign)
    problems.extend(_state_problems(output, state_dir))
    return problems


def _state_problems(output: Path, state_dir: Path) -> list[str]:
    # The state is private (counts by reader); the output folder is served.
    out, state = os.path.realpath(output), os.path.realpath(state_dir)
    if state == out or state.startswith(out.rstrip("/") + "/"):
        return [
            f"state_dir {state_dir} is inside the output folder, which is served;"
            " choose another folder"
        ]
    return []


def _output_problems(
    shown: str, out: Path, system: str | None, seeds_at: Path, seeds: Path
) -> list[str]:
    if system:
        # Whatever else it holds, this says all.
        return [f"{shown} is {system}; choose a folder for the feeds alone"]
    if out == seeds_at:
        return [f"{shown} is the seeds folder; the feeds would be written among the seeds"]
    if _inside(out, seeds_at):
        return [f"{shown} is inside the seeds folder {seeds}"]
    if _inside(seeds_at, out):
        return [f"{shown} holds the seeds folder {seeds}, and would serve it"]
    return []


def _output_and_cache_problems(shown: str, out: Path, cache: Path, cache_dir: Path) -> list[str]:
    if out == cache:
        return [f"{shown} is the parse cache's folder (cache_dir)"]
    if _inside(cache, out):
        return [
            f"cache_dir {cache_dir} is inside the output folder, which is served;"
            " choose another folder"
        ]
    if _inside(out, cache) and not _system_reason(cache):
        return [f"{shown} is inside the parse cache's folder {cache_dir}"]
    return []


def _service_folder_problems(
    shown: str, out: Path, system: str | None, cache: Path, environ: Mapping[str, str]
) -> list[str]:
    problems: list[str] = []
    for variable, name in _SERVICE_FOLDERS.items():
        for folder in filter(None, environ.get(variable, "").split(":")):
            service = _real(Path(folder))
            if service == cache:
                continue  # _output_and_cache_problems says it
            if not system and (out == service or _inside(service, out)):
                verb = "is" if out == service else "holds"
                problems.append(f"{shown} {verb} {name} {folder}; use a folder inside it")
    return problems


def _cache_problems(cache: Path, cache_dir: Path, seeds_at: Path, seeds: Path) -> list[str]:
    problems: list[str] = []
    system = _system_reason(cache)
    if system:
        problems.append(f"cache_dir: {cache_dir} is {system}")
    if cache == seeds_at or _inside(cache, seeds_at):
        problems.append(f"cache_dir: {cache_dir} is in the seeds folder {seeds}")
    return problems


def foreign_entry(output: Path) -> str | None:
    """A name in ``output`` that shows feeds did not make the folder, else None.

    A folder feeds made holds the marker. One that does not is taken (and
    marked by the next build) when it is new, holds nothing but dotfiles, or
    holds the files every older version wrote.
    """
    try:
        if (output / MARKER).is_file():
            return None
        names = [entry.name for entry in os.scandir(output)]
    except (FileNotFoundError, NotADirectoryError):
        return None  # new (or not a folder: the writer says so)
    except OSError:
        return None  # unreadable: the writer reports what it cannot do
    # Dotfiles (a .gitkeep, the writer's temp files) are never served nor removed.
    names = [name for name in names if not name.startswith(".")]
    if not names or all(os.path.isfile(output / name) for name in SIGNATURE):
        return None
    return sorted(names)[0]


def foreign_problem(output: Path) -> str | None:
    """`foreign_entry` as one ``output: why`` line."""
    found = foreign_entry(output)
    if found is None:
        return None
    return (
        f"output: {output} holds files feeds did not write (such as {found!r});"
        f" choose a new or empty folder, or, if feeds is to write and serve this one,"
        f" create the file {output / MARKER}"
    )


def _real(path: Path) -> Path:
    # realpath, not Path.resolve: it never raises on a symlink loop.
    return Path(os.path.realpath(path))


def _inside(path: Path, folder: Path) -> bool:
    return folder in path.parents


def _system_reason(path: Path) -> str | None:
    """Why ``path`` belongs to the system or to everyone, else None."""
    if path == Path("/"):
        return "the root folder"
    trees, shared = _system_folders()
    for tree, spellings in trees.items():
        if path in spellings:
            return "a system folder"
        if any(_inside(path, spelling) for spelling in spellings):
            return f"inside the system folder {tree}"
    if path in shared:
        return "a system folder"
    try:
        home = _real(Path.home())
    except (RuntimeError, KeyError, OSError):  # no HOME and no passwd entry
        return None
    return "your home folder" if path == home else None


@cache
def _system_folders() -> tuple[dict[str, set[Path]], set[Path]]:
    # Both spellings: /lib is /usr/lib on merged-/usr systems, /etc is
    # /private/etc on macOS, and a user's path is compared resolved.
    trees = {tree: {Path(tree), _real(Path(tree))} for tree in _SYSTEM_TREES}
    shared = {Path(folder) for folder in _SHARED_FOLDERS}
    shared |= {_real(folder) for folder in shared}
    return trees, shared


def folder_identity(path: Path) -> tuple[int, int] | None:
    """Which folder ``path`` is (device, inode); None when there is none. A
    folder removed and made again, or swapped for another, has another."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)
