"""Memory a daemon freed goes back to the system (`feeds.system.memory`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A child, so its resident size is its own: 200 MB of texts larger than
# Python's allocator takes, freed behind one that stays (so the C heap cannot
# shrink from its top by itself), then given back.
_CHILD = textwrap.dedent(
    """
    import gc
    from feeds.system.memory import give_back

    def resident_mb():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024

    texts = [bytes(1000) + i.to_bytes(4, "big") for i in range(200_000)]
    pinned = bytes(1000) + b"pinned"
    del texts
    gc.collect()
    before = resident_mb()
    given = give_back()
    print(given, before, resident_mb(), len(pinned))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_memory_freed_in_the_c_heap_is_given_back_to_the_system() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True, timeout=120
    )
    given, before, after, _ = run.stdout.split()
    assert given == "True"
    assert int(before) - int(after) >= 150, (before, after)
