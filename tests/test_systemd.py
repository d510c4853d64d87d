"""The shipped units are valid and hardened (`systemd-analyze security` ≤ 1.5)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO

UNITS = REPO / "systemd"
ANALYZE = shutil.which("systemd-analyze")


def test_the_service_is_a_notify_service_with_watchdog_and_reload() -> None:
    unit = (UNITS / "feeds.service").read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "StateDirectory=feeds",
        "CacheDirectory=feeds",
        "ProtectSystem=strict",
    ):
        assert line in unit, line
    assert "feeds run" in unit
    timer = (UNITS / "feeds-build.timer").read_text()
    assert "OnUnitActiveSec=" in timer
    assert "feeds build" in (UNITS / "feeds-build.service").read_text()


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["feeds.service", "feeds-build.service"])
def test_exposure_is_at_most_1_5(unit: str) -> None:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(UNITS / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.5
