"""A batch of writes is durable together, and atomic file by file."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds import writer
from feeds.errors import OutputError
from feeds.writer import OutputFolder


def _temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(f"{writer.TEMP_PREFIX}*"))


def test_targets_keep_their_old_bytes_until_the_batch_commits(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    folder.prepare()
    folder.write("a.xml", b"old")
    with folder.batch():
        assert folder.write("a.xml", b"new")
        assert folder.write("sub/b.xml", b"bee")
        assert (tmp_path / "a.xml").read_bytes() == b"old"
        assert not (tmp_path / "sub" / "b.xml").exists()
    assert (tmp_path / "a.xml").read_bytes() == b"new"
    assert (tmp_path / "sub" / "b.xml").read_bytes() == b"bee"
    assert _temp_files(tmp_path) == []


def test_a_batch_syncs_once_instead_of_per_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(writer, "_sync_files", lambda root, names: calls.append(len(names)))
    folder = OutputFolder(tmp_path)
    with folder.batch():
        for index in range(10):
            folder.write(f"f{index}.xml", b"x")
    assert calls == [10]


def test_large_batches_commit_as_they_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "BATCH_FILES", 3)
    folder = OutputFolder(tmp_path)
    with folder.batch():
        for index in range(4):
            folder.write(f"f{index}.xml", b"x")
        assert sorted(path.name for path in tmp_path.glob("f*.xml")) == [
            "f0.xml",
            "f1.xml",
            "f2.xml",
        ]
    assert len(list(tmp_path.glob("f*.xml"))) == 4


def test_an_error_inside_a_batch_commits_what_was_finished(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)

    def write_two() -> None:
        with folder.batch():
            folder.write("done.xml", b"complete")
            folder.write("../outside.xml", b"refused")

    with pytest.raises(OutputError):
        write_two()
    assert (tmp_path / "done.xml").read_bytes() == b"complete"
    assert _temp_files(tmp_path) == []


def test_a_failed_sync_renames_nothing_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(root: Path, names: list[str]) -> None:
        raise OSError(28, "No space left on device")

    folder = OutputFolder(tmp_path)
    folder.write("a.xml", b"last good")
    monkeypatch.setattr(writer, "_sync_files", failing)

    def write_in_batch() -> None:
        with folder.batch():
            folder.write("a.xml", b"never durable")

    with pytest.raises(OutputError, match="No space left"):
        write_in_batch()
    assert (tmp_path / "a.xml").read_bytes() == b"last good"
    assert _temp_files(tmp_path) == []
