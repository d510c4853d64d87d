"""Symbolic links among the seeds: followed beneath the seeds folder, never out of it.

A link to a file outside the seeds folder was refused after a check on its
resolved path, and the file was then opened by path: a link further along
(``a-link.txt -> b-target.txt``, with ``b-target.txt`` swapped between a file
and a link to a file outside) could change between the two, and the outside
file was published (issue 13, item 3). The check and the read are now one
walk from a descriptor of the seeds folder, one component at a time, never
following a link without reading it first.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from feeds.errors import ArticleError
from feeds.seeds import seedfile

OUTSIDE = "refused: a symbolic link to a file outside the seeds folder"
SECRET = b"outside the seeds folder"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(SECRET)
    return folder


def _read(path: Path, seeds: Path) -> bytes | str:
    try:
        return seedfile.read_seed_bytes(path, seeds)
    except ArticleError as error:
        return error.reason


# --- what is documented and stays so ----------------------------------------------


def test_a_link_to_a_file_inside_is_read(seeds: Path) -> None:
    (seeds / "target.dat").write_bytes(b"inside")
    (seeds / "link.txt").symlink_to("target.dat")
    (seeds / "sub").mkdir()
    (seeds / "sub" / "up.txt").symlink_to("../target.dat")
    (seeds / "absolute.txt").symlink_to(seeds / "target.dat")

    for name in ("link.txt", "sub/up.txt", "absolute.txt"):
        assert _read(seeds / name, seeds) == b"inside", name


def test_a_chain_of_links_inside_is_read(seeds: Path) -> None:
    (seeds / "sub").mkdir()
    (seeds / "sub" / "target.dat").write_bytes(b"inside")
    (seeds / "alias").symlink_to("sub", target_is_directory=True)
    (seeds / "b.txt").symlink_to("alias/target.dat")
    (seeds / "a.txt").symlink_to("b.txt")

    assert _read(seeds / "a.txt", seeds) == b"inside"


def test_a_link_out_and_back_in_by_name_is_read(seeds: Path) -> None:
    (seeds / "target.dat").write_bytes(b"inside")
    (seeds / "link.txt").symlink_to(f"../{seeds.name}/target.dat")

    assert _read(seeds / "link.txt", seeds) == b"inside"


def test_a_link_to_a_file_outside_is_refused(seeds: Path, outside: Path) -> None:
    (seeds / "absolute.txt").symlink_to(outside / "secret.txt")
    (seeds / "relative.txt").symlink_to(f"../{outside.name}/secret.txt")
    (seeds / "sub").mkdir()
    (seeds / "sub" / "deep.txt").symlink_to(f"../../{outside.name}/secret.txt")
    (seeds / "via-folder.txt").symlink_to("out/secret.txt")
    (seeds / "out").symlink_to(outside, target_is_directory=True)
    (seeds / "chain.txt").symlink_to("absolute.txt")

    for name in ("absolute.txt", "relative.txt", "sub/deep.txt", "via-folder.txt", "chain.txt"):
        assert _read(seeds / name, seeds) == OUTSIDE, name


def test_a_folder_linked_in_from_outside_is_read(seeds: Path, outside: Path) -> None:
    """The operator's choice (README, "Articles"): its files are read, but a
    file link in it must still lead into the seeds folder."""
    (seeds / "target.dat").write_bytes(b"inside")
    (seeds / "linked").symlink_to(outside, target_is_directory=True)
    (outside / "back-in.txt").symlink_to(seeds / "target.dat")
    (outside / "sideways.txt").symlink_to("secret.txt")

    assert _read(seeds / "linked" / "secret.txt", seeds) == SECRET
    assert _read(seeds / "linked" / "back-in.txt", seeds) == b"inside"
    assert _read(seeds / "linked" / "sideways.txt", seeds) == OUTSIDE


def test_a_dangling_link_and_a_loop_are_named(seeds: Path) -> None:
    (seeds / "gone.txt").symlink_to("missing.txt")
    (seeds / "self.txt").symlink_to("self.txt")
    (seeds / "ping.txt").symlink_to("pong.txt")
    (seeds / "pong.txt").symlink_to("ping.txt")

    assert _read(seeds / "gone.txt", seeds) == "cannot read file: broken symbolic link"
    for name in ("self.txt", "ping.txt"):
        assert _read(seeds / name, seeds) == (
            "cannot read file: Too many levels of symbolic links"
        ), name


def test_a_long_chain_of_links_is_bounded(seeds: Path) -> None:
    (seeds / "target.dat").write_bytes(b"inside")
    previous = "target.dat"
    for n in range(seedfile.MAX_LINKS):
        (seeds / f"l{n}").symlink_to(previous)
        previous = f"l{n}"

    assert _read(seeds / previous, seeds) == b"inside"
    (seeds / "one-more").symlink_to(previous)
    assert _read(seeds / "one-more", seeds) == (
        "cannot read file: Too many levels of symbolic links"
    )


def test_a_path_outside_the_seeds_folder_is_refused(seeds: Path, outside: Path) -> None:
    assert _read(outside / "secret.txt", seeds) == "refused: a file outside the seeds folder"
    assert _read(seeds / ".." / outside.name / "secret.txt", seeds) == (
        "refused: a file outside the seeds folder"
    )


def test_without_a_seeds_folder_links_are_followed(outside: Path) -> None:
    """Only callers that name no seeds folder (tests, tools) read anything."""
    assert seedfile.read_seed_bytes(outside / "secret.txt") == SECRET


# --- the race -----------------------------------------------------------------------


class Swapper:
    """Swaps ``b-target.txt`` between a regular file and a link to the
    outside file right before the n-th file-system call the reader makes."""

    def __init__(self, seeds: Path, outside: Path, start_as_link: bool) -> None:
        self.seeds, self.outside = seeds, outside
        self.start_as_link = start_as_link
        self.calls = 0
        self.at = -1
        self._busy = False

    def reset(self, at: int) -> None:
        self._set(link=self.start_as_link)
        self.calls, self.at = 0, at

    def _set(self, *, link: bool) -> None:
        self._busy = True
        try:
            staged = self.seeds / ".staged"
            if link:
                staged.symlink_to(self.outside / "secret.txt")
            else:
                staged.write_bytes(b"inside")
            os.replace(staged, self.seeds / "b-target.txt")
        finally:
            self._busy = False

    def wrap(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if not self._busy:
                if self.calls == self.at:
                    self._set(link=not self.start_as_link)
                self.calls += 1
            return function(*args, **kwargs)

        return call


@pytest.fixture
def swapper(seeds: Path, outside: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(start_as_link: bool) -> Swapper:
        swapper = Swapper(seeds, outside, start_as_link)
        for name in ("open", "stat", "lstat", "fstat", "readlink", "scandir", "fdopen"):
            monkeypatch.setattr(os, name, swapper.wrap(getattr(os, name)))
        monkeypatch.setattr(io, "open", swapper.wrap(io.open))
        return swapper

    return make


@pytest.mark.parametrize("start_as_link", [False, True], ids=["file-then-link", "link-then-file"])
@pytest.mark.parametrize("name", ["a-link.txt", "b-target.txt"])
def test_a_link_swapped_at_any_step_of_the_read_never_leads_out(
    seeds: Path, swapper: Callable[[bool], Swapper], start_as_link: bool, name: str
) -> None:
    """Every moment between two file-system calls of one read, tried in turn."""
    (seeds / "a-link.txt").symlink_to("b-target.txt")
    swap = swapper(start_as_link)
    outcomes = set()
    at = 0
    while True:
        swap.reset(at)
        result = _read(seeds / name, seeds)
        assert result != SECRET, f"the outside file was read with the swap before call {at}"
        outcomes.add(result)
        if swap.calls <= at:  # the read made fewer calls: every moment was tried
            break
        at += 1
    assert b"inside" in outcomes
