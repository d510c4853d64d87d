"""Arbitrary YAML-ish documents and JSON-like mappings through the reader and the config.

Only the project's own errors may come out, every accepted article obeys the
hostile-input rules, warnings are few and one line each, and the secret never
shows. Example counts come from the
hypothesis profile (conftest.py): modest by default, HYPOTHESIS_PROFILE=long
or `pytest -m slow` for a soak.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.config import Config, load_config
from feeds.errors import ArticleError, ConfigError, FeedsError
from feeds.model import MAX_IMAGES, MAX_RELATED, MAX_TOPICS, Article
from feeds.seeds.reader import MAX_WARNINGS, Reading, parse_seed
from feeds.seeds.text import has_invisible, has_word, strip_forbidden
from feeds.urls import MAX_URL_LENGTH

SECRET = "prop-secret-51d0e"
FIELDS = [
    "title", "webUrl", "originalUrl", "publishedDateTime", "updatedDateTime", "excerpt",
    "category", "topics", "provider", "images", "related", "quality", "heat", "published",
    "secured", "name", "domain", "url", "width", "height",
]  # fmt: skip
CONFIG_KEYS = [*Config.model_fields, "name", "email", "host", "port", "hubs"]

#: Words that trip YAML or the reader: 1.1 booleans, octal, sexagesimal, tags.
_TRICKY = [
    "no", "yes", "on", "off", "~", "null", "012", "1:20", "0x1F", "1_000", ".inf", ".nan",
    "!!int x", "!!binary x", "!!python/object:os.system x", "!!timestamp x", "!!str",
    "https://example.org/a", "javascript:alert(1)", "2021-06-15T15:20:00Z", "2021-13-45",
    "<script>x</script>", "]]>", "&amp;", "'", '"', "|", ">", "- ", "? ", ": ", "#",
    "\u202e", "\u200b", "\ufeff", "\U000e0041", "\\ud800", "\\x01", "\\U0010ffff",
]  # fmt: skip
_text = st.text(max_size=20) | st.sampled_from(_TRICKY)
_anchors = st.sampled_from(["a", "b", "c"])
_scalar = st.one_of(
    _text,
    _text.map(lambda text: json.dumps(text)),  # a double-quoted scalar with escapes
    _anchors.map(lambda name: f"*{name}"),
    st.tuples(_anchors, _text).map(lambda pair: f"&{pair[0]} {pair[1]}"),
)


def _flow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    items = st.lists(inner, max_size=4)
    keyed = st.lists(st.tuples(st.sampled_from(FIELDS) | _text, inner), max_size=4)
    return (
        items.map(lambda values: "[" + ", ".join(values) + "]")
        | keyed.map(lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}")
        | st.tuples(_anchors, items).map(lambda pair: f"&{pair[0]} [" + ", ".join(pair[1]) + "]")
    )


_value = st.recursive(_scalar, _flow, max_leaves=10)
_line = st.one_of(
    st.tuples(st.sampled_from(FIELDS) | _text, _value).map(lambda pair: f"{pair[0]}: {pair[1]}"),
    _anchors.map(lambda name: f"<<: *{name}"),
    st.tuples(st.sampled_from(FIELDS), st.lists(_value, max_size=3)).map(
        lambda pair: f"{pair[0]}:\n" + "".join(f"  - {item}\n" for item in pair[1]).rstrip("\n")
    ),
    _text,
)
#: A YAML-ish document: mostly lines of known fields, some of them nonsense.
yamlish = st.lists(_line, max_size=12).map("\n".join)

_json_scalar = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
    | st.sampled_from(_TRICKY)
)  # fmt: skip
#: JSON-like mappings built around the real field names (JSON is YAML).
json_like = st.recursive(
    _json_scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=15,
)
REQUIRED = {
    "title": "A title",
    "webUrl": "https://example.org/a",
    "publishedDateTime": "2021-06-15T15:20:00Z",
}


def read(front: str) -> Reading | ArticleError:
    raw = f"---\n{front}\n---\n".encode("utf-8", "surrogatepass")
    try:
        return parse_seed(raw, "x.txt", UTC)
    except ArticleError as error:
        return error


def check_article(outcome: Reading | ArticleError) -> None:
    """Whatever came in, an accepted article keeps the hostile-input rules."""
    if isinstance(outcome, ArticleError):
        assert outcome.reason
        assert "\n" not in outcome.reason
        assert SECRET not in str(outcome)
        return
    assert len(outcome.warnings) <= MAX_WARNINGS
    for warning in outcome.warnings:
        assert warning
        assert "\n" not in warning
        assert SECRET not in warning
    check_published(outcome.article)


def check_published(outcome: Article) -> None:
    assert SECRET not in repr(outcome)
    texts = [outcome.title, *outcome.topics, outcome.category or "", outcome.summary_html]
    texts += [related.title for related in outcome.related]
    for text in texts:
        assert strip_forbidden(text) == text
        assert not has_invisible(text)
    assert len(outcome.topics) <= MAX_TOPICS
    assert all(has_word(topic) for topic in outcome.topics)
    assert len(outcome.images) <= MAX_IMAGES
    assert len(outcome.related) <= MAX_RELATED
    assert len(outcome.link) <= MAX_URL_LENGTH


@given(yamlish)
@example("title: !!int")  # PyYAML raised IndexError, which reached the user
def test_any_yamlish_front_matter_gives_an_article_or_an_article_error(front: str) -> None:
    check_article(read(f"secured: {SECRET}\n{front}"))


@given(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_like, max_size=8))
@example({"excerpt": "<b>a &#1; b &#xFFFE;</b>"})  # the sanitiser wrote them out
def test_any_json_like_fields_give_an_article_or_an_article_error(fields: dict[str, Any]) -> None:
    check_article(read(json.dumps({**REQUIRED, **fields, "secured": SECRET})))


def test_the_article_rules_can_fail() -> None:
    reading = read(json.dumps({**REQUIRED, "title": "ok"}))
    assert isinstance(reading, Reading)
    for broken in ({"title": "a\u202eb"}, {"topics": ("!!!",)}, {"title": "a\x01"}):
        with pytest.raises(AssertionError):
            check_published(_replace(reading.article, **broken))
    with pytest.raises(AssertionError):
        check_article(Reading(reading.article, (f"quality: {SECRET}",)))


def _replace(article: Article, **changes: Any) -> Article:
    import dataclasses

    if "title" in changes:  # kept as UTF-8
        changes["title_utf8"] = changes.pop("title").encode()
    return dataclasses.replace(article, **changes)


def config_outcome(path: Path, text: str) -> Config | FeedsError:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_config(path)
    except ConfigError as error:
        return error


@given(yamlish)
@example("title: !!int")
def test_any_yamlish_config_gives_a_config_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("prop", numbered=True) / "feeds.yaml"
    outcome = config_outcome(path, text.replace("\\ud800", "x"))
    assert not isinstance(outcome, FeedsError) or str(outcome).startswith(f"{path}: ")


@given(st.dictionaries(st.sampled_from(CONFIG_KEYS) | st.text(max_size=8), json_like, max_size=6))
def test_any_json_like_config_gives_a_config_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, settings_: dict[str, Any]
) -> None:
    path = tmp_path_factory.mktemp("prop", numbered=True) / "feeds.yaml"
    outcome = config_outcome(path, json.dumps(settings_))
    assert not isinstance(outcome, FeedsError) or str(outcome).startswith(f"{path}: ")


@pytest.mark.slow
@settings(max_examples=5000)
@given(yamlish)
def test_soak_yamlish_front_matter(front: str) -> None:
    check_article(read(f"secured: {SECRET}\n{front}"))
