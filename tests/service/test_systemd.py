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


def _settings(unit: str) -> dict[str, list[str]]:
    """Every `Key=value` of a unit file, repeated keys in order."""
    settings: dict[str, list[str]] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("unit", ["feeds.service", "feeds-build.service"])
def test_the_service_user_is_unprivileged_and_cannot_write_the_seeds(unit: str) -> None:
    settings = _settings(unit)
    assert settings["DynamicUser"] == ["yes"]
    assert "User" not in settings
    assert settings["NoNewPrivileges"] == ["yes"]
    assert settings["CapabilityBoundingSet"] == [""]
    assert settings["AmbientCapabilities"] == [""]
    # Everything read-only but the state, cache and runtime folders systemd makes.
    assert settings["ProtectSystem"] == ["strict"]
    assert "ReadWritePaths" not in settings
    assert settings["ReadOnlyPaths"] == ["-/srv/feeds"]
    assert "/srv/feeds/seeds" in (REPO / "README.md").read_text()  # where the README puts them
    for key in ("StateDirectory", "CacheDirectory", "RuntimeDirectory", "LogsDirectory"):
        assert all("/" not in value for value in settings.get(key, [])), key


def _seconds(value: str) -> float:
    """A systemd time span of the forms the units use ("30s", "5min")."""
    match = re.fullmatch(r"(\d+)(s|min)", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def test_the_daemon_exits_by_itself_before_systemd_kills_it() -> None:
    """SIGTERM waits a bounded time for the rebuild in progress, then the
    process ends whatever hangs (STOP_DEADLINE): both within TimeoutStopSec,
    so a stop is the daemon's own, with its last log lines."""
    from feeds.service.daemon import STOP_DEADLINE, STOP_WAIT

    settings = _settings("feeds.service")
    assert STOP_WAIT < STOP_DEADLINE < _seconds(settings["TimeoutStopSec"][-1])
