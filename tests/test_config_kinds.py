"""Each setting's kind, as a specification: declared once, beside its field,
and followed by the parse cache's identity and the config digest.

A *reading* setting changes the parse cache's identity (every seed file is read
again) and the digest; a *rendering* one the digest alone (every feed is
rendered again); a *runtime* one neither. A setting without a kind fails here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from feeds.build.uptodate import config_digest, parse_cache
from feeds.config import Config, SettingKind, _model_in, settings_of
from tests.conftest import REPO

#: A config whose every setting, custom feeds' included, can be changed alone.
BASE: dict[str, Any] = {
    "seeds": "/srv/feeds/seeds",
    "output": "/srv/feeds/output",
    "custom_feeds": [{"name": "ai"}],
    "publish": [{"url": "s3://feeds-bucket/feeds/"}],
}

#: Another valid value of every setting, by its path from the top.
OTHER_VALUES: dict[str, object] = {
    "title": "Other",
    "description": "Other",
    "language": "de",
    "author.name": "Ed",
    "author.email": "ed@example.org",
    "author.uri": "https://example.org/ed",
    "base_url": "https://feeds.example.org/",
    "home_url": "https://example.org/",
    "seeds": "/srv/other/seeds",
    "output": "/srv/other/output",
    "cache_dir": "/srv/other/cache",
    "state_dir": "/srv/other/state",
    "patterns": ["*.md"],
    "timezone": "Europe/Berlin",
    "max_items": 7,
    "published_only": True,
    "watch": "poll",
    "debounce_ms": 5,
    "rescan_interval": 60,
    "rebuild_timeout": 60,
    "server.host": "::1",
    "server.port": 9000,
    "server.cache_max_age": 5,
    "server.cors": "https://reader.example.org",
    "server.metrics": False,
    "websub.hubs": ["https://hub.example.org/"],
    "custom_feeds.name": "space",
    "custom_feeds.title": "Other",
    "custom_feeds.description": "Other",
    "custom_feeds.topics_any": ["AI"],
    "custom_feeds.topics_all": ["AI"],
    "custom_feeds.categories": ["News"],
    "custom_feeds.provider_domains": ["example.org"],
    "custom_feeds.min_quality": 0.5,
    "custom_feeds.published_only": True,
    "custom_feeds.include": ["robot"],
    "custom_feeds.exclude": ["robot"],
    "facets.categories": True,
    "facets.providers": True,
    "archives": False,
    "archive_max_items": 7,
    "formats": ["rss"],
    "ttl": 60,
    "pages": False,
    "max_bytes": 20_000,
    "summary_length": 300,
    "fix_text": False,
    "strict": True,
    "publish.url": "s3://other-bucket/",
    "publish.endpoint_url": "https://account.r2.cloudflarestorage.com",
    "publish.region": "auto",
    "publish.profile": "publisher",
    "publish.public_url": "https://cdn.example.org/feeds/",
    "publish.cache_control.feeds": "public, max-age=30",
    "publish.cache_control.archives": "public, max-age=86400",
    "publish.cache_control.pages": "no-cache",
    "publish.purge_command": ["/usr/local/bin/purge-cdn"],
}


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """(path, declared kinds, is a section) of every field, sections' fields too."""
    for name, field in model.model_fields.items():
        kinds = [item for item in field.metadata if isinstance(item, SettingKind)]
        section = _model_in(field.annotation)
        yield prefix + name, kinds, section is not None
        if section is not None:
            yield from _fields(section, f"{prefix}{name}.")


def _settings() -> dict[str, SettingKind | None]:
    fields = _fields(Config)
    return {path: next(iter(kinds), None) for path, kinds, section in fields if not section}


def _with(path: str, value: object) -> Config:
    data = copy.deepcopy(BASE)
    *sections, name = path.split(".")
    target = data
    for section in sections:
        target = target.setdefault(section, {})
        if isinstance(target, list):
            target = target[0]
    target[name] = value
    return Config.model_validate(data)


def test_every_setting_declares_exactly_one_kind_and_a_section_none() -> None:
    for path, kinds, section in _fields(Config):
        assert len(kinds) == (0 if section else 1), f"{path}: {kinds}"


def test_every_setting_has_another_value_here() -> None:
    assert sorted(OTHER_VALUES) == sorted(_settings())


@pytest.mark.parametrize("path", sorted(OTHER_VALUES))
def test_another_value_changes_what_its_kind_says(path: str) -> None:
    base, changed = Config.model_validate(BASE), _with(path, OTHER_VALUES[path])
    assert changed != base
    kind = _settings()[path]
    identity_changed = parse_cache(changed).catalog_path.name != parse_cache(base).catalog_path.name
    digest_changed = config_digest(changed) != config_digest(base)
    assert identity_changed == (kind is SettingKind.READING)
    assert digest_changed == (kind is not SettingKind.RUNTIME)
    reading_changed = settings_of(changed, SettingKind.READING) != settings_of(
        base, SettingKind.READING
    )
    assert reading_changed == (kind is SettingKind.READING)  # what the daemon's reload compares


def test_the_identity_and_digest_of_a_config_are_those_of_earlier_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Existing parse caches stay warm, and a build with nothing to do stays
    one: under the reader's rules of then (READ_RULES 4), the same names.
    The digests changed once on purpose, with `archive_max_items` (issue 17):
    busy feeds' archives are cut anew, so the first build must not be a no-op.
    (The folders are pinned absolute: a relative one is digested as made
    absolute from the working folder.)"""
    config = Config(seeds=Path("/srv/feeds/seeds"), output=Path("/srv/feeds/output"))
    assert parse_cache(config).catalog_path.name != "parse-e7c5ad0fa7b6a2d521a1.cache"
    monkeypatch.setattr("feeds.model.READ_RULES", 4)
    assert config_digest(config) == "bbd55cdb805b98ff994981c850175725"
    assert parse_cache(config).catalog_path.name == "parse-e7c5ad0fa7b6a2d521a1.cache"
    sample = Config.model_validate(
        {
            "title": "Pinned",
            "seeds": "/srv/feeds/seeds",
            "output": "/srv/feeds/output",
            "cache_dir": "/srv/feeds/cache",
            "patterns": ["*.md"],
            "timezone": "Europe/Berlin",
            "summary_length": 300,
            "fix_text": False,
            "strict": True,
            "debounce_ms": 250,
            "server": {"port": 9000},
            "websub": {"hubs": ["https://hub.example/"]},
            "custom_feeds": [{"name": "ai", "topics_any": ["ai"], "min_quality": 0.5}],
            "facets": {"categories": True},
            "author": {"name": "Ed", "email": "ed@example.org"},
        }
    )
    assert config_digest(sample) == "a5d389b6f1eef22ce915fb80d3c3af21"
    assert parse_cache(sample).catalog_path.name == "parse-db62a4598a5d0042e724.cache"


def test_the_readme_gives_each_setting_its_kind() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| key | default | kind | meaning |") :].split("\n\n")[0]
    documented: dict[str, str] = {}
    for row in table.splitlines()[2:]:
        keys, _default, kind, _meaning = (cell.strip() for cell in row.strip("|").split(" | "))
        documented |= dict.fromkeys(re.findall(r"`([a-z_.]+)`", keys), kind)
    settings = _settings()
    for key, kind in documented.items():
        under = {path: of for path, of in settings.items() if f"{path}.".startswith(f"{key}.")}
        assert under, key
        assert {of.value if of else None for of in under.values()} == {kind}, key
    top = {path.split(".")[0] for path in settings}
    assert top <= {key.split(".")[0] for key in documented}


def test_the_digest_is_the_same_however_the_folders_are_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`feeds run` makes the folders absolute: a start after a `feeds build`
    from a relative config must find the output current, not render it all."""
    monkeypatch.chdir(tmp_path)
    relative = Config(seeds=Path("seeds"), output=Path("site/output"))
    absolute = relative.model_copy(
        update={"seeds": relative.seeds.absolute(), "output": relative.output.absolute()}
    )
    assert config_digest(relative) == config_digest(absolute)
    assert config_digest(relative) != config_digest(Config(seeds=Path("seeds"), output=Path("out")))
