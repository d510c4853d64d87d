"""Discovery returns seed files in Path order, whatever characters names hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.seeds.discovery import discover, discover_names


def test_files_come_back_in_path_order(tmp_path: Path) -> None:
    # '-', ' ', '+' and '.' sort before '/' as characters but not as components.
    names = ["a/x.txt", "a-b/x.txt", "a b/y.txt", "a+/z.txt", "a.txt", "a/b/c.txt", "ab.txt"]
    for name in names:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("---\n---\n", encoding="utf-8")
    found = discover(tmp_path, ["*.txt"])
    assert found == sorted(tmp_path / name for name in names)
    assert [str(path) for path in found] != sorted(str(tmp_path / name) for name in names)


@pytest.mark.parametrize("spelling", [".", "seeds", "./seeds", "seeds/", "{abs}", "{abs}/"])
def test_names_are_spelled_as_their_paths_would_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    seeds = tmp_path / "seeds"
    for name in ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]:
        (seeds / name).parent.mkdir(parents=True, exist_ok=True)
        (seeds / name).write_text("---\n---\n", encoding="utf-8")
    monkeypatch.chdir(seeds if spelling == "." else tmp_path)
    folder = Path(spelling.format(abs=seeds))
    names = discover_names(folder, ["*.txt"])
    assert names == [str(path) for path in discover(folder, ["*.txt"])]
    assert names == [str(Path(name)) for name in names]
