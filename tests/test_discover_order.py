"""Discovery returns seed files in Path order, whatever characters names hold."""

from __future__ import annotations

from pathlib import Path

from feeds.discovery import discover


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
