"""Specs of `feeds publish`'s refusals before any request: credentials in
the config, a bad target URL, no targets, an output folder with no build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.cli import main
from tests.conftest import mark_output

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
#: Nothing listens here: a request made by mistake fails another way.
CLOSED = "http://127.0.0.1:9"


def publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], yaml: str, *options: str
) -> tuple[int, str]:
    config = tmp_path / "feeds.yaml"
    config.write_text(f"base_url: https://cdn.example.org/feeds/\n{yaml}", encoding="utf-8")
    code = main(["publish", "--config", str(config), *options])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


def target(**fields: str) -> str:
    entry = {"url": "s3://bucket/feeds/", "endpoint_url": CLOSED, **fields}
    return f"publish: [{json.dumps(entry)}]\n"


@pytest.mark.parametrize(
    "key",
    ["aws_secret_access_key", "aws_access_key_id", "aws_session_token", "password", "credentials"],
)
def test_a_credential_in_a_target_is_refused_without_quoting_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    code, err = publish(tmp_path, capsys, target(**{key: SECRET}))

    assert code == 2
    assert err.startswith("feeds: error: ")
    assert key in err
    assert "credentials are never read from the config" in err
    assert SECRET not in err
    assert SECRET[:8] not in err


@pytest.mark.parametrize(
    "url",
    ["http://bucket/feeds/", "s3://A/", "s3://bucket/../x", "s3://bucket/feeds/./x", "bucket"],
)
def test_a_bad_target_url_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, err = publish(tmp_path, capsys, target(url=url))

    assert code == 2
    assert err.startswith("feeds: error: ")
    assert "url" in err
    assert "Traceback" not in err
    assert any(
        words in err for words in ("must be an s3:// URL", "names no valid bucket", "no plain path")
    ), err


def test_publish_without_targets_exits_2_saying_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = publish(tmp_path, capsys, "")

    assert code == 2
    assert err == (
        "feeds: error: no publish targets: add a `publish:` list to the config (see the README)\n"
    )


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "empty"])
def test_publish_of_a_folder_with_no_build_refuses_to_empty_the_bucket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], marked: bool
) -> None:
    folder = tmp_path / "somewhere"
    if marked:
        mark_output(folder)
        (folder / "all.atom.xml").write_text("<feed/>", encoding="utf-8")
    else:
        folder.mkdir()

    code, err = publish(tmp_path, capsys, target(), "--output", str(folder))

    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("feeds: error: ")
    assert err == (
        f"feeds: error: {folder}: holds no built feeds (index.html is missing), and a push "
        "would empty the targets; run `feeds build` first\n"
    )
