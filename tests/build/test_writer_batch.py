"""A batch of writes is durable together, and atomic file by file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.build import writer
from feeds.build.builder import Builder
from feeds.build.writer import OutputFolder
from feeds.config import Config
from feeds.errors import OutputError
from tests.conftest import SeedWriter

NOW = datetime(2030, 1, 1, tzinfo=UTC)


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


def test_feeds_of_a_failed_publish_are_rendered_again_by_the_next(
    write_seed: SeedWriter,
    make_config: Callable[..., Config],
    seeds: Path,
    output: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a failed batch never renamed into place is not taken as written."""
    write_seed("a.txt", title="Alpha", link="https://e.org/a")
    builder = Builder(make_config())
    builder.scan_all()
    builder.publish(NOW)
    (seeds / "a.txt").write_text((seeds / "a.txt").read_text().replace("Alpha", "Alpha, edited"))
    builder.update([seeds / "a.txt"])

    def full_disk(root: Path, names: list[str]) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(writer, "_sync_files", full_disk)
        with pytest.raises(OutputError):
            builder.publish(NOW)
    assert "Alpha, edited" not in (output / "all.json").read_text()
    report = builder.publish(NOW)  # the disk has room again
    assert "all.json" in report.written
    assert "Alpha, edited" in (output / "all.json").read_text()
