"""What rebuilds freed is given back to the system once they pause, never
while one runs or right after one ended (`feeds.service.heap.QuietTrim`)."""

from __future__ import annotations

import pytest

from feeds.service import heap


def test_freed_memory_is_given_back_once_per_pause_in_the_rebuilds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[float] = []
    now = [0.0]

    def give_back() -> bool:
        trims.append(now[0])
        return True

    monkeypatch.setattr(heap, "give_back", give_back)
    trim = heap.QuietTrim(clock=lambda: now[0])

    def tick(at: float, ended: int, running: bool = False) -> bool:
        now[0] = at
        return trim.tick(ended, running)

    assert not tick(5.0, 0)  # no rebuild ended yet
    assert not tick(6.0, 1)  # one just ended
    assert not tick(6.0 + heap.QUIET / 2, 1)
    assert not tick(6.0 + heap.QUIET, 1, running=True)  # another runs
    assert tick(6.0 + heap.QUIET, 1)
    assert not tick(60.0, 1)  # nothing new to give back
    assert not tick(61.0, 2)
    assert not tick(62.0, 3)  # saves keep coming: the pause starts again
    assert tick(62.0 + heap.QUIET, 3)
    assert trims == [6.0 + heap.QUIET, 62.0 + heap.QUIET]
