"""Configuration, as a specification.

Every key is optional; relative paths are relative to the config file's own
folder; flags win over the file; and anything wrong is a `ConfigError` whose
message names the file, the key, what was expected and what was found.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from feeds.config import Config, default_state_dir, load_config, state_dir_of
from feeds.errors import ConfigError
from tests.conftest import REPO

BUNDLED = REPO / "config" / "feeds.yaml"


def write_config(folder: Path, text: str, name: str = "feeds.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path) -> str:
    """The message ``path`` is refused with; fails the test if it loads."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")  # every line names the file
    assert all(line.startswith(f"{path}: ") for line in message.splitlines())
    assert "Traceback" not in message
    return message


# --- defaults and the bundled file ------------------------------------------


def test_defaults_when_there_is_no_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    config = load_config()

    assert config.title == "Feeds"
    assert config.description == "Articles from the seeds folder"
    assert config.language == "en"
    assert config.author.name == "feeds"
    assert config.author.email is None
    assert config.base_url == "http://127.0.0.1:8080/"
    assert config.home_url is None
    assert config.site_url == config.base_url
    assert config.patterns == ("*.txt", "*.md")
    assert config.timezone == "UTC"
    assert config.tz == ZoneInfo("UTC")
    assert config.max_items == 50
    assert config.published_only is False
    assert config.strict is False
    assert config.seeds.resolve() == (tmp_path / "seeds").resolve()
    assert config.output.resolve() == (tmp_path / "output").resolve()


def test_config_feeds_yaml_in_the_working_folder_is_read_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path / "config", "title: Found\nseeds: articles\n")
    monkeypatch.chdir(tmp_path)

    config = load_config()

    assert config.title == "Found"
    assert config.seeds.resolve() == (tmp_path / "config" / "articles").resolve()


def test_an_empty_config_file_means_all_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path, "# nothing set\n")

    config = load_config(path)

    assert config.model_dump(exclude={"seeds", "output"}) == Config().model_dump(
        exclude={"seeds", "output"}
    )


def test_the_bundled_config_loads_with_paths_relative_to_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # anywhere but the repository

    config = load_config(BUNDLED)

    assert config.seeds.resolve() == (REPO / "seeds").resolve()
    assert config.output.resolve() == (REPO / "output").resolve()


def test_the_bundled_config_states_the_defaults() -> None:
    # Its header says the values shown are the defaults, except the folders.
    bundled = load_config(BUNDLED).model_dump(exclude={"seeds", "output"})

    assert bundled == Config().model_dump(exclude={"seeds", "output"})


# --- paths --------------------------------------------------------------------


def test_relative_paths_are_relative_to_the_config_file_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path / "etc" / "feeds", "seeds: in\noutput: ../../public\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(path)

    assert config.seeds.resolve() == (tmp_path / "etc" / "feeds" / "in").resolve()
    assert config.output.resolve() == (tmp_path / "public").resolve()


def test_absolute_paths_in_the_file_are_kept(tmp_path: Path) -> None:
    seeds, output = tmp_path / "abs-seeds", tmp_path / "abs-out"
    path = write_config(tmp_path / "conf", f"seeds: '{seeds}'\noutput: '{output}'\n")

    config = load_config(path)

    assert config.seeds == seeds
    assert config.output == output


@pytest.mark.parametrize(
    ("flags", "expected_seeds", "expected_output"),
    [
        pytest.param({"seeds": Path("/srv/in")}, Path("/srv/in"), None, id="seeds"),
        pytest.param({"output": Path("/srv/out")}, None, Path("/srv/out"), id="output"),
        pytest.param(
            {"seeds": Path("rel/in"), "output": Path("rel/out")},
            Path("rel/in"),
            Path("rel/out"),
            id="relative-flags-stay-as-given",
        ),
    ],
)
def test_flags_override_the_file(
    tmp_path: Path,
    flags: dict[str, Any],
    expected_seeds: Path | None,
    expected_output: Path | None,
) -> None:
    path = write_config(tmp_path / "conf", "seeds: from-file\noutput: from-file-out\n")

    config = load_config(path, **flags)

    file_seeds = (tmp_path / "conf" / "from-file").resolve()
    file_output = (tmp_path / "conf" / "from-file-out").resolve()
    if expected_seeds is None:
        assert config.seeds.resolve() == file_seeds
    else:
        assert config.seeds == expected_seeds
    if expected_output is None:
        assert config.output.resolve() == file_output
    else:
        assert config.output == expected_output


@pytest.mark.parametrize(
    ("text", "flag", "expected"),
    [
        pytest.param("", None, False, id="default"),
        pytest.param("strict: true\n", None, True, id="file"),
        pytest.param("strict: false\n", True, True, id="flag-wins"),
    ],
)
def test_strict_comes_from_the_file_or_the_flag(
    tmp_path: Path, text: str, flag: bool | None, expected: bool
) -> None:
    path = write_config(tmp_path, text)

    assert load_config(path, strict=flag).strict is expected


@pytest.mark.parametrize("strict", [None, True, False])
@pytest.mark.parametrize("flag", [None, "flag-cache"])
def test_cache_dir_comes_from_the_flag_else_the_file_whatever_strict_says(
    tmp_path: Path, strict: bool | None, flag: str | None
) -> None:
    path = write_config(tmp_path / "conf", "cache_dir: file-cache\n")
    cache_flag = tmp_path / flag if flag else None

    config = load_config(path, cache_dir=cache_flag, strict=strict)

    assert config.cache_dir == (cache_flag or tmp_path / "conf" / "file-cache")


def test_state_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "conf", "state_dir: ../state\n"))
    assert config.state_dir == tmp_path / "state"
    assert state_dir_of(config) == tmp_path / "state"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"STATE_DIRECTORY": "/var/lib/feeds:/var/lib/other"}, "/var/lib/feeds"),
        ({"XDG_STATE_HOME": "/x/state"}, "/x/state/feeds"),
        ({"HOME": "/home/ed"}, "/home/ed/.local/state/feeds"),
    ],
)
def test_state_dir_defaults_to_systemd_then_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], expected: str
) -> None:
    for name in ("STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert default_state_dir() == Path(expected)


@pytest.mark.parametrize("state", ["output", "output/state"])
def test_state_dir_inside_the_output_folder_is_refused(tmp_path: Path, state: str) -> None:
    path = write_config(tmp_path, f"output: output\nstate_dir: {state}\n")
    with pytest.raises(ConfigError, match=r"state_dir .* is inside the output folder"):
        load_config(path)


def test_state_dir_inside_the_output_folder_by_default_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "output" / "state"))
    with pytest.raises(ConfigError, match=r"state_dir .* is inside the output folder"):
        load_config(write_config(tmp_path, "output: output\n"))


def test_flags_apply_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    config = load_config(seeds=Path("/data/in"), output=Path("/data/out"))

    assert (config.seeds, config.output) == (Path("/data/in"), Path("/data/out"))


# --- values -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("https://example.org/feeds", "https://example.org/feeds/"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/feeds/", "https://example.org/feeds/"),
        ("  http://example.org:8080/x  ", "http://example.org:8080/x/"),
    ],
)
def test_base_url_always_ends_with_a_slash(tmp_path: Path, given_url: str, expected: str) -> None:
    path = write_config(tmp_path, f"base_url: '{given_url}'\n")

    assert load_config(path).base_url == expected


def test_home_url_is_the_site_url_when_set(tmp_path: Path) -> None:
    path = write_config(tmp_path, "home_url: https://example.org/blog\n")

    config = load_config(path)

    assert config.site_url == "https://example.org/blog"
    assert config.base_url == "http://127.0.0.1:8080/"


def test_settings_are_read(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        textwrap.dedent("""\
        title: My feeds
        language: de-AT
        author:
          name: Editor
          uri: https://example.org/editor
        timezone: Europe/Berlin
        max_items: 7
        patterns: ["*.seed"]
        published_only: true
        """),
    )

    config = load_config(path)

    assert config.title == "My feeds"
    assert config.language == "de-AT"
    assert config.author.name == "Editor"
    assert config.author.uri == "https://example.org/editor"
    assert config.tz == ZoneInfo("Europe/Berlin")
    assert config.max_items == 7
    assert config.patterns == ("*.seed",)
    assert config.published_only is True


def test_a_loaded_config_cannot_be_changed(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "max_items: 5\n"))

    with pytest.raises(ValidationError):
        config.max_items = 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("max_itmes: 3\n", "unknown key 'max_itmes' (did you mean 'max_items'?)"),
        pytest.param("tittle: x\n", "unknown key 'tittle' (did you mean 'title'?)"),
        pytest.param("Timezone: UTC\n", "unknown key 'Timezone' (did you mean 'timezone'?)"),
        pytest.param("author:\n  nmae: x\n", "unknown key 'author.nmae' (did you mean 'name'?)"),
        pytest.param(
            "author:\n  emial: a@b.c\n", "unknown key 'author.emial' (did you mean 'email'?)"
        ),
    ],
)
def test_an_unknown_key_suggests_the_closest_known_one(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write_config(tmp_path, text)

    assert config_error(path) == f"{path}: {expected}"


def test_an_unknown_key_like_nothing_known_gets_no_suggestion(tmp_path: Path) -> None:
    path = write_config(tmp_path, "colour: red\n")

    assert config_error(path) == f"{path}: unknown key 'colour'"


def test_a_nested_key_is_only_matched_against_its_own_section(tmp_path: Path) -> None:
    # max_items is a top-level key: under author it is unknown, and not suggested.
    message = config_error(write_config(tmp_path, "author:\n  max_items: 3\n"))

    assert "unknown key 'author.max_items'" in message
    assert "did you mean 'max_items'" not in message


@pytest.mark.parametrize(
    ("text", "key", "expected", "shown"),
    [
        pytest.param("max_items: 0", "max_items", "greater than or equal to 1", "0"),
        pytest.param("max_items: -3", "max_items", "greater than or equal to 1", "-3"),
        pytest.param("max_items: 1000001", "max_items", "less than or equal to", "1000001"),
        pytest.param('max_items: "ten"', "max_items", "valid integer", "'ten'"),
        pytest.param("max_items: 2.5", "max_items", "valid integer", "2.5"),
        pytest.param("max_items: true", "max_items", "valid integer", "True"),
        pytest.param("timezone: Mars/Base", "timezone", "IANA time zone", "'Mars/Base'"),
        pytest.param("timezone: ../../etc/passwd", "timezone", "IANA time zone", None),
        pytest.param("timezone: ''", "timezone", "IANA time zone", "''"),
        pytest.param("base_url: ftp://x", "base_url", "http:// or https://", "'ftp://x'"),
        pytest.param("base_url: /feeds/", "base_url", "http:// or https://", "'/feeds/'"),
        pytest.param("home_url: example.org", "home_url", "http:// or https://", None),
        pytest.param("author:\n  uri: 'javascript:x'", "author.uri", "http:// or https://", None),
        pytest.param('language: "not a tag!"', "language", "match pattern", "'not a tag!'"),
        pytest.param("language: 1", "language", "valid string", "1"),
        pytest.param("title: ''", "title", "at least 1 character", "''"),
        pytest.param("patterns: []", "patterns", "at least 1 item", "a list"),
        pytest.param("published_only: maybe", "published_only", "valid boolean", "'maybe'"),
        pytest.param("strict: 'true'", "strict", "valid boolean", "'true'"),
        pytest.param("strict: 1", "strict", "valid boolean", "1"),
        pytest.param("author: Jane", "author", "valid dictionary", "'Jane'"),
    ],
)
def test_a_bad_value_is_named_with_what_was_expected(
    tmp_path: Path, text: str, key: str, expected: str, shown: str | None
) -> None:
    path = write_config(tmp_path, text + "\n")

    message = config_error(path)

    assert message.startswith(f"{path}: {key}: ")
    assert expected in message
    assert "Value error" not in message
    if shown is not None:
        assert message.endswith(f"(got {shown})")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, "max_itmes: 3\ntimezone: Mars/Base\nbase_url: ftp://x\n")

    lines = config_error(path).splitlines()

    assert len(lines) == 3
    assert any("max_itmes" in line for line in lines)
    assert any("timezone" in line for line in lines)
    assert any("base_url" in line for line in lines)


def test_a_long_value_is_named_not_quoted(tmp_path: Path) -> None:
    long_value = "x" * 200
    message = config_error(write_config(tmp_path, f"timezone: {long_value}\n"))

    assert long_value not in message
    assert message.endswith("(got text)")


# --- files that cannot be read ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("- a\n- b\n", "expected a mapping of settings, got a list", id="list"),
        pytest.param("just text\n", "expected a mapping of settings, got text", id="text"),
        pytest.param("42\n", "expected a mapping of settings, got a number", id="number"),
    ],
)
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = write_config(tmp_path, text)

    assert config_error(path) == f"{path}: {expected}"


def test_invalid_yaml_is_refused_with_its_line_number(tmp_path: Path) -> None:
    path = write_config(tmp_path, "title: ok\nbase_url: a: b\n")

    assert config_error(path).startswith(f"{path}: invalid YAML at line 2, column ")


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"

    assert config_error(path) == f"{path}: config file not found"


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes("title: Café\n".encode("latin-1"))

    assert config_error(path) == f"{path}: not UTF-8 text"


def test_a_folder_given_as_the_config_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "feeds.yaml"
    folder.mkdir()

    assert config_error(folder).startswith(f"{folder}: cannot read config: ")


def test_utf8_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"\xef\xbb\xbftitle: Caf\xc3\xa9\n")

    assert load_config(path).title == "Café"


# --- known crashes: these must become ConfigErrors ---------------------------


@pytest.mark.parametrize("zone", ["America", "Etc"])
def test_a_timezone_naming_a_folder_of_zones_is_a_config_error(tmp_path: Path, zone: str) -> None:
    # Known bug: ZoneInfo raises IsADirectoryError, which the validator lets through.
    message = config_error(write_config(tmp_path, f"timezone: {zone}\n"))

    assert "IANA time zone" in message


def test_a_value_that_does_not_match_its_yaml_tag_is_a_config_error(tmp_path: Path) -> None:
    # Known bug: YAML's own ValueError escapes load_config.
    config_error(write_config(tmp_path, "max_items: !!int ten\n"))


@pytest.mark.parametrize("tag", ["!!int", "!!float"])
def test_an_empty_tagged_number_is_a_config_error(tmp_path: Path, tag: str) -> None:
    # PyYAML's constructor raised IndexError on it, which load_yaml let out.
    message = config_error(write_config(tmp_path, f"title: {tag}\n"))

    assert message == f"{tmp_path / 'feeds.yaml'}: invalid YAML: a value does not match its type"


def test_a_number_too_long_for_python_is_a_config_error(tmp_path: Path) -> None:
    # Known bug: YAML's int() hits Python's 4300-digit limit and raises ValueError.
    config_error(write_config(tmp_path, "max_items: 1" + "0" * 5000 + "\n"))


def test_a_huge_number_in_a_text_setting_is_a_config_error(tmp_path: Path) -> None:
    # Known bug: the message quotes the value with repr(), which raises ValueError
    # for an int of more than 4300 digits (0x... ints parse without that limit).
    message = config_error(write_config(tmp_path, "title: 0x" + "f" * 5000 + "\n"))

    assert message.startswith(f"{tmp_path / 'feeds.yaml'}: title: ")


# --- nothing but a Config or a ConfigError ----------------------------------


def config_or_error(path: Path, text: str) -> Config | ConfigError:
    path.write_text(text, encoding="utf-8")
    try:
        return load_config(path)
    except ConfigError as error:
        return error


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("a: &a [*a, *a]")
@example("[" * 2000)
@example("max_items: 1e3")
@example("? [a]\n: b")
@example("{1: 2, null: 3}")
@example("seeds: !!python/object:os.system x")
@example("title: !!int")
def test_any_text_gives_a_config_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("prop", numbered=True) / "feeds.yaml"

    outcome = config_or_error(path, text)

    if isinstance(outcome, ConfigError):
        assert str(outcome).startswith(f"{path}: ")
    else:
        assert outcome.base_url.endswith("/")
        assert outcome.max_items >= 1


_CONFIG_KEYS = list(Config.model_fields)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["UTC", "Europe/Berlin", "https://example.org", "ftp://x", "en-GB", "*.txt"])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["name", "email", "uri", "host", "port"]), inner)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_CONFIG_KEYS) | st.text(max_size=8), _values, max_size=6))
def test_any_settings_give_a_config_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, settings_: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("prop", numbered=True) / "feeds.yaml"

    outcome = config_or_error(path, yaml.safe_dump(settings_))

    if isinstance(outcome, ConfigError):
        assert str(outcome).startswith(f"{path}: ")
    else:
        assert set(settings_) <= set(_CONFIG_KEYS)  # unknown keys are never ignored
        assert outcome.base_url.endswith("/")


# --- text every feed carries --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "code_point"),
    [
        ('title: "Feeds \\x01 daily"\n', "title", "U+0001"),
        ('description: "x\\uFFFE"\n', "description", "U+FFFE"),
        ('author:\n  name: "a\\x0b b"\n', "author.name", "U+000B"),
        (
            'custom_feeds:\n  - name: tech\n    title: "T\\uFFFF"\n',
            "custom_feeds.0.title",
            "U+FFFF",
        ),
        ('patterns: ["*.txt", "a\\x1fb"]\n', "patterns", "U+001F"),
    ],
)
def test_text_holding_a_character_xml_forbids_is_refused_by_its_code_point(
    tmp_path: Path, text: str, where: str, code_point: str
) -> None:
    """Such text in a title would stop every build that renders it; it is
    named by its code point and the setting, never quoted back."""
    path = write_config(tmp_path, text)

    message = config_error(path)

    assert message == f"{path}: {where}: holds {code_point}, a character no feed may carry"


def test_tabs_newlines_and_any_other_text_stay_allowed(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'title: "Ünïcode\\tand\\nlines 😀 \\u00a0"\n')

    assert load_config(path).title == "Ünïcode\tand\nlines 😀 \u00a0"


def test_a_validators_reason_is_shown_in_its_own_words(tmp_path: Path) -> None:
    path = write_config(tmp_path, "base_url: ftp://example.org/\n")

    message = config_error(path)

    assert message == (
        f"{path}: base_url: must be an absolute http:// or https:// URL (got 'ftp://example.org/')"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "formats: [atom, rsss]\n",
            "formats: unknown format 'rsss' (did you mean 'rss'?); known: atom, rss, json",
        ),
        pytest.param(
            "formats: [gopher]\n", "formats: unknown format 'gopher'; known: atom, rss, json"
        ),
        pytest.param(
            "formats: []\n", "formats: Tuple should have at least 1 item after validation, not 0"
        ),
    ],
)
def test_an_unknown_or_missing_format_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = write_config(tmp_path, text)

    assert config_error(path).startswith(f"{path}: {expected}")


def test_formats_default_to_all_and_keep_the_registrys_order(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, "")).formats == ("atom", "rss", "json")
    chosen = load_config(write_config(tmp_path, "formats: [json, rss, json]\n"))
    assert chosen.formats == ("rss", "json")


def test_cors_is_any_origin_one_origin_or_off(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, "")).server.cors == "*"
    one = "server:\n  cors: https://reader.example.org:8443\n"
    assert load_config(write_config(tmp_path, one)).server.cors == "https://reader.example.org:8443"
    assert load_config(write_config(tmp_path, "server:\n  cors: null\n")).server.cors is None


@pytest.mark.parametrize(
    "value",
    [
        "''",
        "https://reader.example.org/feeds",
        "'*, https://a.example'",
        "'x\\r\\nSet: y'",
        '"x\\r\\nSet: y"',
        '"https://a.example\\n"',
    ],
)
def test_cors_that_is_not_one_origin_is_refused(tmp_path: Path, value: str) -> None:
    path = write_config(tmp_path, f"server:\n  cors: {value}\n")

    assert config_error(path).startswith(f"{path}: server.cors: ")
