"""The reader, as a specification.

A seed file is UTF-8 text that starts with YAML front matter. What it must hold
to become an `Article`, how its fields are cleaned, which optional fields are
dropped with a warning, and how every other file is turned away with a
one-line reason a person can act on, without ever quoting the `secured`
secret back.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.config import Config
from feeds.errors import ArticleError
from feeds.model import Article, Image, Provider, RelatedArticle
from feeds.plan.plans import Duplicate, merge_duplicates
from feeds.plan.slugs import assign_slugs, slug_for
from feeds.seeds import reader
from feeds.seeds.discovery import discover
from feeds.seeds.reader import (
    MAX_WARNINGS,
    Reading,
    ReadOptions,
    parse_article,
    parse_seed,
    read_all,
    read_article,
    read_seed,
)
from feeds.seeds.yamlload import MAX_DEPTH
from tests.conftest import SAMPLES, SeedWriter, seed_text

PATTERNS = ("*.txt", "*.md")
SAMPLE_000 = SAMPLES / "000_10faea11f67d5a72.txt"
SAMPLE_001 = SAMPLES / "001_00e4f9c406803b75.txt"

#: The three fields every article needs, as front-matter lines.
REQUIRED = (
    'title: "A title"',
    'webUrl: "https://example.org/a"',
    "publishedDateTime: 2021-06-15T15:20:00Z",
)

#: Stands in for a seed's `secured` value; must never be echoed anywhere.
SECRET = "S3CR3T-TcUk2H1QLm25xpX5+/=="


def doc(*lines: str) -> str:
    """A seed file whose front matter is exactly ``lines``."""
    return "---\n" + "".join(f"{line}\n" for line in lines) + "---\n"


def parse(content: str | bytes, tz: tzinfo = UTC, path: str = "x.txt") -> Article:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    return parse_article(raw, path, tz)


def reading(content: str | bytes) -> Reading:
    """The article and warnings of ``content``; each warning one line of words."""
    raw = content.encode("utf-8") if isinstance(content, str) else content
    result = parse_seed(raw, "x.txt", UTC)
    for warning in result.warnings:
        assert warning == warning.strip()
        assert "\n" not in warning
        assert "Error(" not in warning
    return result


def rejection(content: str | bytes, tz: tzinfo = UTC) -> str:
    """The reason ``content`` is rejected; fails the test if it is accepted."""
    with pytest.raises(ArticleError) as caught:
        parse(content, tz)
    reason = caught.value.reason
    # Person-readable: one line of words, no traceback, no repr of a Python object.
    assert reason
    assert reason == reason.strip()
    assert "\n" not in reason
    assert "Traceback" not in reason
    assert "Error(" not in reason
    return reason


def secured_value(path: Path) -> str:
    match = re.search(r'^secured: "(.+)"$', path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match is not None
    return match.group(1)


# --- the two real samples ---------------------------------------------------


def test_sample_becomes_an_article_with_every_published_field() -> None:
    article = read_article(SAMPLE_000, UTC)

    link = (
        "https://thecrimereport.org/2021/06/15/"
        "cops-elude-baltimore-ban-on-facial-recognition-technology/"
    )
    assert article.title == "Cops Elude Baltimore Ban on Facial Recognition Technology"
    assert article.link == link
    assert article.original_link == link
    assert article.via_link is None  # the original is the article itself
    assert article.published == datetime(2021, 6, 15, 15, 20, tzinfo=UTC)
    assert article.published.utcoffset() == timedelta(0)
    assert article.updated == article.published  # no updatedDateTime in the file
    assert article.topics == ("Computer Vision", "AI")
    assert article.provider == Provider(name="thecrimereport.org", domain="thecrimereport.org")
    assert article.category == "news"
    assert article.quality == 39.0
    assert article.heat == -1.0
    assert article.is_published is False
    assert article.source == str(SAMPLE_000)
    assert article.id.startswith("urn:uuid:")
    assert "potential for racial bias" in article.summary_html  # double space collapsed


def test_sample_first_image_keeps_its_size() -> None:
    article = read_article(SAMPLE_000, UTC)

    assert article.images == (
        Image(
            url="https://thecrimereport.org/wp-content/uploads/2018/04/"
            "facial-by-martin-Jolicoeur-e1524454035839.jpg",
            width=720,
            height=393,
        ),
    )


def test_sample_related_articles_keep_title_link_date_and_provider() -> None:
    related = read_article(SAMPLE_000, UTC).related

    assert [(item.title, item.link) for item in related] == [
        (
            "King County Council\u2019s ban of facial recognition technology"
            " is \u2018misguided\u2019",
            "https://mynorthwest.com/2963886/king-county-facial-recognition-ban-misguided/",
        ),
        (
            "Baltimore City Council approves moratorium on facial recognition technology; "
            "City police exempt from ban",
            "https://www.baltimoresun.com/politics/bs-md-ci-baltimore-council-facial-recognition"
            "-20210614-xbooqalr6be7zhzljcnpeb3cqm-story.html",
        ),
        (
            "Baltimore City Council passes facial recognition ban",
            "https://www.securityinfowatch.com/access-identity/biometrics/"
            "facial-recognition-solutions/news/21226436/"
            "baltimore-city-council-passes-facial-recognition-ban",
        ),
        (
            "Baltimore City Council Votes to Approve Extreme Ban on Facial Recognition",
            "https://www.benzinga.com/pressreleases/21/06/p21531581/"
            "baltimore-city-council-votes-to-approve-extreme-ban-on-facial-recognition",
        ),
    ]
    assert related[0] == RelatedArticle(
        title=related[0].title,
        link=related[0].link,
        published=datetime(2021, 6, 12, 15, 12, tzinfo=UTC),
        provider=Provider(name="MyNorthwest.com", domain="mynorthwest.com"),
        summary="Daniel Castro with the Information Technology & Innovation Foundation says"
        " King County's ban of facial recognition tech wasn't based on real evidence.",
    )


def test_mojibake_in_a_related_excerpt_is_repaired_unless_switched_off() -> None:
    fixed = read_article(SAMPLE_001, UTC).related[0].summary
    assert fixed is not None
    assert "city’s police" in fixed
    raw = read_article(SAMPLE_001, UTC, ReadOptions(fix_text=False)).related[0].summary
    assert raw is not None
    assert "cityâ€™s police" in raw


def test_a_long_excerpt_is_cut_at_a_word_boundary(write_seed: SeedWriter) -> None:
    words = " ".join(f"word{n}" for n in range(2000))
    path = write_seed("long.txt", extra=f'excerpt: "<b>{words}</b>"\n')
    article = read_article(path, UTC, ReadOptions(summary_length=100))
    assert article.summary_html.endswith("…")
    assert len(article.summary_html) <= 101
    assert article.summary_html[:-1].split(" ")[-1].startswith("word")
    assert "<b>" not in article.summary_html


@pytest.mark.parametrize(
    ("path", "title", "published", "first_image_size", "related_count", "quality"),
    [
        pytest.param(
            SAMPLE_000,
            "Cops Elude Baltimore Ban on Facial Recognition Technology",
            datetime(2021, 6, 15, 15, 20, tzinfo=UTC),
            (720, 393),
            4,
            39.0,
            id="000",
        ),
        pytest.param(
            SAMPLE_001,
            "Minneapolis passes restrictions on facial recognition use by local police",
            datetime(2021, 2, 15, 21, 41, tzinfo=UTC),
            (1600, 1035),
            3,
            38.0,
            id="001",
        ),
    ],
)
def test_each_sample_reads(
    path: Path,
    title: str,
    published: datetime,
    first_image_size: tuple[int, int],
    related_count: int,
    quality: float,
) -> None:
    result = read_seed(path, UTC)
    article = result.article

    assert result.warnings == ()
    assert article.title == title
    assert article.published == published
    assert (article.images[0].width, article.images[0].height) == first_image_size
    assert len(article.related) == related_count
    assert article.quality == quality
    assert article.topics == ("Computer Vision", "AI")
    assert article.is_published is False


@pytest.mark.parametrize("path", [SAMPLE_000, SAMPLE_001], ids=["000", "001"])
def test_secured_never_reaches_an_article(path: Path) -> None:
    secret = secured_value(path)
    shown = repr(read_article(path, UTC))

    assert "secured" not in shown
    assert secret not in shown
    assert secret[:16] not in shown  # not even a prefix


# --- encoding and text hygiene ----------------------------------------------


def test_utf8_with_a_byte_order_mark_is_accepted() -> None:
    article = parse(b"\xef\xbb\xbf" + seed_text(title="Café").encode("utf-8"))

    assert article.title == "Café"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(seed_text(title="Café").encode("latin-1"), id="latin-1"),
        pytest.param(seed_text().encode("utf-16"), id="utf-16"),
        pytest.param(b"---\ntitle: \xff\xfe\n---\n", id="stray-bytes"),
    ],
)
def test_bytes_that_are_not_utf8_are_rejected(raw: bytes) -> None:
    assert "UTF-8" in rejection(raw)


@pytest.mark.parametrize(
    ("yaml_title", "expected"),
    [
        pytest.param(r"\x01Breaking\x0b news", "Breaking news", id="controls"),
        pytest.param(r"bell\x07 and escape\x1b", "bell and escape", id="bell-escape"),
        pytest.param(r"  lots   of\t\tspace  ", "lots of space", id="spaces-tabs"),
        pytest.param(r"line\nbreak\r\nhere", "line break here", id="newlines"),
    ],
)
def test_title_loses_control_characters_and_extra_whitespace(
    yaml_title: str, expected: str
) -> None:
    # seed_text puts the title in YAML double quotes, where \xNN is an escape.
    assert parse(seed_text(title=yaml_title)).title == expected


def test_excerpt_loses_control_characters() -> None:
    article = parse(seed_text(extra='excerpt: "one\\x01 two\\x0b three"\n'))

    assert article.summary_html == "one two three"


def test_a_raw_control_character_in_the_file_is_rejected_as_invalid_yaml() -> None:
    assert rejection(seed_text(title="A\x01title")).startswith("invalid YAML")


def excerpt_of(fragment: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar.
    return parse(seed_text(extra=f"excerpt: {json.dumps(fragment)}\n")).summary_html


def test_excerpt_drops_script_elements_with_their_content() -> None:
    summary = excerpt_of("<p>Hello<script>steal(document.cookie)</script> world</p>")

    assert summary == "<p>Hello world</p>"


def test_excerpt_drops_event_handler_attributes() -> None:
    summary = excerpt_of('<p onclick="steal()">Hello</p>')

    assert summary == "<p>Hello</p>"


def test_excerpt_drops_javascript_links_but_keeps_their_text() -> None:
    summary = excerpt_of('<a href="javascript:steal()">read more</a>')

    assert "javascript" not in summary
    assert "steal" not in summary
    assert "read more" in summary


def test_excerpt_keeps_http_links_and_simple_markup() -> None:
    summary = excerpt_of('<p><em>New</em>: <a href="https://example.org/x">story</a></p>')

    assert '<a href="https://example.org/x"' in summary
    assert "<em>New</em>" in summary


def test_excerpt_plain_text_with_an_ampersand_survives() -> None:
    summary = excerpt_of("Fish & chips < 3 pounds")

    assert summary == "Fish &amp; chips &lt; 3 pounds"
    assert html.unescape(summary) == "Fish & chips < 3 pounds"


# --- dates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        pytest.param("2021-06-15T15:20:00+05:30", timedelta(hours=5, minutes=30), id="+05:30"),
        pytest.param("2021-06-15T15:20:00-04:00", timedelta(hours=-4), id="-04:00"),
        pytest.param("2021-06-15T15:20:00Z", timedelta(0), id="Z"),
    ],
)
def test_date_with_an_offset_keeps_the_offset_as_given(written: str, offset: timedelta) -> None:
    published = parse(seed_text(published=written), tz=ZoneInfo("Europe/Berlin")).published

    assert published.tzinfo == timezone(offset)  # a fixed offset, not the configured zone
    assert (published.hour, published.minute) == (15, 20)  # wall time as written


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        pytest.param("2021-06-15T15:20:00", timedelta(hours=2), id="summer"),
        pytest.param("2021-01-15T15:20:00", timedelta(hours=1), id="winter"),
    ],
)
def test_date_without_an_offset_is_in_the_configured_timezone(
    make_config: Callable[..., Config], written: str, offset: timedelta
) -> None:
    config = make_config("timezone: Europe/Berlin")

    published = parse(seed_text(published=written), tz=config.tz).published

    assert published.tzinfo == ZoneInfo("Europe/Berlin")
    assert published.utcoffset() == offset
    assert (published.hour, published.minute) == (15, 20)


def test_a_date_alone_means_midnight_in_the_configured_timezone(
    make_config: Callable[..., Config],
) -> None:
    config = make_config("timezone: Europe/Berlin")

    published = parse(seed_text(published="2021-06-15"), tz=config.tz).published

    assert published == datetime(2021, 6, 15, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert published == datetime(2021, 6, 14, 22, 0, tzinfo=UTC)


def test_quoted_and_unquoted_dates_read_the_same() -> None:
    unquoted = parse(seed_text(published="2021-06-15T15:20:00Z")).published
    quoted = parse(seed_text(published='"2021-06-15T15:20:00Z"')).published

    assert quoted == unquoted


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("yesterday", id="word"),
        pytest.param("2021-13-01", id="month-13"),
        pytest.param("2021-02-30T10:00:00Z", id="feb-30"),
        pytest.param("2021-06-15T25:00:00Z", id="hour-25"),
        pytest.param("20210615", id="number"),
        pytest.param("1623770400.5", id="float"),
        pytest.param("[2021, 6, 15]", id="list"),
        pytest.param("{year: 2021}", id="mapping"),
        pytest.param("true", id="bool"),
    ],
)
def test_a_date_that_is_not_iso_8601_is_rejected_naming_the_field(written: str) -> None:
    reason = rejection(seed_text(published=written))

    assert reason.startswith("publishedDateTime: ")
    assert "ISO 8601" in reason


def test_updated_date_is_used_when_present() -> None:
    article = parse(
        seed_text(
            published="2021-06-15T15:20:00Z", extra="updatedDateTime: 2021-06-16T08:00:00+02:00\n"
        )
    )

    assert article.updated == datetime(2021, 6, 16, 6, 0, tzinfo=UTC)
    assert article.published == datetime(2021, 6, 15, 15, 20, tzinfo=UTC)


def test_updated_date_defaults_to_published() -> None:
    article = parse(seed_text(published="2021-06-15T15:20:00Z"))

    assert article.updated == article.published == datetime(2021, 6, 15, 15, 20, tzinfo=UTC)


def test_updated_date_before_published_is_raised_to_published() -> None:
    article = parse(
        seed_text(published="2021-06-15T15:20:00Z", extra="updatedDateTime: 2021-06-01T00:00:00Z\n")
    )

    assert article.updated == article.published


def test_a_date_that_is_not_iso_8601_is_never_quoted_back() -> None:
    reason = rejection(seed_text(published=f'"{SECRET}"'))

    assert reason == "publishedDateTime: not an ISO 8601 date or date-time"


def test_a_bad_updated_date_is_dropped_naming_that_field() -> None:
    result = reading(seed_text(published="2021-06-15T15:20:00Z", extra="updatedDateTime: soon\n"))

    assert result.warnings == ("updatedDateTime: not an ISO 8601 date or date-time",)
    assert result.article.updated == result.article.published


# --- rejections -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(doc("title: [unclosed"), "invalid YAML at line", id="invalid-yaml"),
        pytest.param(doc("- a", "- b"), "front matter must be a mapping of fields, got a list"),
        pytest.param(doc("just words"), "front matter must be a mapping of fields, got text"),
        pytest.param(doc("42"), "front matter must be a mapping of fields, got a number"),
        pytest.param("title: x\n", "no front matter: the file must begin with a '---' line"),
        pytest.param("", "no front matter", id="empty-file"),
        pytest.param("\n" + doc(*REQUIRED), "no front matter", id="blank-line-first"),
        pytest.param("---\ntitle: x\n", "front matter is not closed by a '---' line"),
        pytest.param(doc(), "front matter is empty", id="empty-front-matter"),
        pytest.param(doc("# a comment only"), "front matter is empty", id="comment-only"),
        pytest.param(doc(*REQUIRED[1:]), "missing title", id="no-title"),
        pytest.param(doc('title: "   "', *REQUIRED[1:]), "missing title", id="blank-title"),
        pytest.param(doc("title: [a, b]", *REQUIRED[1:]), "title: expected text, got a list"),
        pytest.param(
            doc(REQUIRED[0], REQUIRED[2]),
            "missing link: set webUrl or originalUrl",
            id="no-link",
        ),
        pytest.param(doc(*REQUIRED[:2]), "missing publishedDateTime", id="no-published"),
        pytest.param(
            doc(*REQUIRED[:2], 'publishedDateTime: ""'),
            "missing publishedDateTime",
            id="empty-published",
        ),
    ],
)
def test_a_malformed_file_is_rejected_with_a_reason(content: str, expected: str) -> None:
    assert rejection(content).startswith(expected)


def test_invalid_yaml_reason_points_at_the_line_in_the_file() -> None:
    # Line 1 is '---'; line 3 holds the error.
    reason = rejection(doc("title: ok", "webUrl: a: b"))

    assert reason.startswith("invalid YAML at line 3, column ")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        pytest.param("/2021/06/story.html", "must be an absolute http:// or https:// URL"),
        pytest.param("example.org/story", "must be an absolute http:// or https:// URL"),
        pytest.param("ftp://example.org/story", "must be an absolute http:// or https:// URL"),
        pytest.param("javascript:alert(1)", "must be an absolute http:// or https:// URL"),
        pytest.param("data:text/html,hi", "must be an absolute http:// or https:// URL"),
        pytest.param("https://", "must be an absolute URL with a host name"),
        pytest.param("https://exa mple.org/", "is not a valid URL"),
        pytest.param("https://example.org:99999/", "is not a valid URL"),
    ],
)
def test_a_link_that_is_not_absolute_http_is_rejected(link: str, expected: str) -> None:
    reason = rejection(seed_text(link=link))

    assert reason.startswith(f"webUrl {expected}")


def test_an_invalid_web_url_is_rejected_even_when_the_original_url_is_valid() -> None:
    content = doc(
        REQUIRED[0],
        'webUrl: "javascript:alert(1)"',
        'originalUrl: "https://example.org/a"',
        REQUIRED[2],
    )

    assert rejection(content).startswith("webUrl ")


def test_an_invalid_original_url_is_dropped_when_the_web_url_is_valid() -> None:
    result = reading(seed_text(extra='originalUrl: "ftp://example.org/a"\n'))

    assert result.warnings == ("originalUrl must be an absolute http:// or https:// URL",)
    assert (result.article.link, result.article.original_link) == ("https://example.org/a", None)


def test_an_invalid_original_url_is_rejected_when_it_is_the_only_link() -> None:
    content = doc(REQUIRED[0], 'originalUrl: "ftp://example.org/a"', REQUIRED[2])

    assert rejection(content) == "originalUrl must be an absolute http:// or https:// URL"


def test_original_url_is_the_link_when_web_url_is_absent() -> None:
    article = parse(doc(REQUIRED[0], 'originalUrl: "https://example.org/orig"', REQUIRED[2]))

    assert article.link == "https://example.org/orig"
    assert article.via_link is None


def test_web_url_is_the_link_and_a_different_original_is_kept_as_via() -> None:
    article = parse(seed_text(extra='originalUrl: "https://source.example/orig"\n'))

    assert article.link == "https://example.org/a"
    assert article.via_link == "https://source.example/orig"


# --- the secret never leaks -------------------------------------------------


class _PurePythonLoader(yaml.SafeLoader):
    """What feeds falls back to without libyaml. Its errors quote the offending
    line, so this is where a leak through an error message would show."""


_PurePythonLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.fixture(params=["libyaml", "pure-python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test with each YAML loader the reader may use."""
    if request.param == "pure-python":
        monkeypatch.setattr("feeds.seeds.yamlload.Loader", _PurePythonLoader)
    return str(request.param)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(f'secured: "{SECRET}: [\n', id="unclosed-quote"),
        pytest.param(f"secured: {SECRET}: [\n", id="mapping-in-value"),
        pytest.param(f"secured: [{SECRET}\n", id="unclosed-flow"),
        pytest.param(f"secured: '{SECRET}\n", id="unclosed-single-quote"),
        pytest.param(f'secured: "{SECRET}"\nsecured: [\n', id="broken-second-secured"),
        pytest.param(f'secured: "{SECRET}"\ntitle: [a]\n', id="wrong-type-title"),
        pytest.param(f'secured: "{SECRET}"\npublishedDateTime: "{SECRET}"\n', id="bad-date"),
    ],
)
def test_a_rejection_never_quotes_the_secret(yaml_loader: str, extra: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse(seed_text(extra=extra))

    assert SECRET not in str(caught.value)
    assert SECRET[:8] not in str(caught.value)
    assert SECRET not in repr(caught.value)


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(f'secured: "{SECRET}"\nquality: "{SECRET}"\n', id="wrong-type-elsewhere"),
        pytest.param(f'secured: "{SECRET}"\ntopics: {{a: "{SECRET}"}}\n', id="wrong-type-after"),
        pytest.param(f'quality: "high"\nsecured: "{SECRET}"\n', id="wrong-type-before"),
        pytest.param(f'updatedDateTime: "{SECRET}"\n', id="bad-date"),
        pytest.param(f'originalUrl: "{SECRET}"\n', id="bad-original-url"),
        pytest.param(f'provider: {{name: Example, domain: "{SECRET}"}}\n', id="bad-domain"),
        pytest.param(f'images: ["{SECRET}", {{url: "{SECRET}"}}]\n', id="bad-images"),
        pytest.param(
            f'related: [{{title: "{SECRET}", webUrl: "{SECRET}"}}, "{SECRET}"]\n',
            id="bad-related",
        ),
        pytest.param(f'published: "{SECRET}"\ncategory: ["{SECRET}"]\n', id="bad-flag"),
    ],
)
def test_a_warning_never_quotes_a_value(yaml_loader: str, extra: str) -> None:
    result = reading(seed_text(extra=extra))

    assert result.warnings
    shown = "\n".join(result.warnings)
    assert SECRET not in shown
    assert SECRET[:8] not in shown
    assert SECRET not in repr(result.article)


@pytest.mark.parametrize("tag", ["!!int", "!!float", "!!bool", "!!timestamp"])
def test_a_mismatched_yaml_tag_on_a_read_field_is_rejected_without_quoting_it(tag: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse(seed_text(extra=f"quality: {tag} {SECRET}\n"))

    assert caught.value.reason.endswith("a value does not match its type")
    assert SECRET.lower() not in str(caught.value).lower()


@pytest.mark.parametrize(
    "tag",
    ["!!int", "!!float", "!!bool", "!!timestamp", "!", "!hunter2", "!!python/object:os.system"],
)
@pytest.mark.parametrize("field", ["secured", "internalNotes"])
def test_a_tag_on_a_field_never_read_rejects_nothing(field: str, tag: str) -> None:
    article = parse(seed_text(extra=f"{field}: {tag} {SECRET}\n"))

    assert article.title == "A title"
    assert SECRET not in repr(article)


def test_a_tag_of_its_own_on_a_read_field_is_unsupported_and_never_named() -> None:
    with pytest.raises(ArticleError) as caught:
        parse(seed_text(extra=f"category: !{SECRET} news\n"))

    assert caught.value.reason == "invalid YAML at line 7, column 11: unsupported YAML tag"


FULL_SEED = seed_text(
    extra="""\
    excerpt: "An excerpt"
    updatedDateTime: 2024-05-02T10:00:00Z
    originalUrl: "https://example.org/original"
    category: news
    provider: {name: Example, domain: example.org}
    images: [{url: "https://example.org/i.png", width: 10, height: 20}]
    related: [{title: Other, webUrl: "https://example.org/o", publishedDateTime: 2024-04-01}]
    quality: 3
    heat: 4
    published: false
    """
)


def test_seed_fields_name_every_field_the_reader_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    # A field missing from SEED_FIELDS would be dropped before it is read.
    pruned = parse(FULL_SEED)
    monkeypatch.setattr(reader, "SEED_FIELDS", None)

    assert parse(FULL_SEED) == pruned
    assert pruned.updated != pruned.published
    assert pruned.is_published is False
    for value in (
        pruned.summary_html, pruned.original_link, pruned.category, pruned.provider,
        pruned.images, pruned.related, pruned.quality, pruned.heat,
    ):  # fmt: skip
        assert value


def test_unknown_fields_never_reach_the_article() -> None:
    article = parse(
        seed_text(
            extra=f"""\
            notes: "{SECRET}"
            token: {SECRET}
            provider:
              name: Example
              apiKey: "{SECRET}"
            images:
              - url: "https://example.org/i.png"
                signature: "{SECRET}"
            related:
              - title: Other
                webUrl: "https://example.org/b"
                secured: "{SECRET}"
            secured: "{SECRET}"
            """
        )
    )

    assert SECRET not in repr(article)
    assert article.provider == Provider(name="Example")
    assert article.images == (Image(url="https://example.org/i.png"),)


# --- optional fields of the wrong shape: dropped, with a warning -------------


def article_fields(article: Article) -> dict[str, object]:
    """What an article publishes, besides the three fields it cannot exist without."""
    return {
        "original_link": article.original_link,
        "updated": article.updated,
        "summary": article.summary_html,
        "category": article.category,
        "topics": article.topics,
        "provider": article.provider,
        "images": tuple(article.images),
        "related": tuple(article.related),
        "quality": article.quality,
        "heat": article.heat,
        "is_published": article.is_published,
    }


#: An article with none of its optional fields: what each drop leaves.
BARE = article_fields(parse(doc(*REQUIRED)))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(("provider: 3",), "provider: expected a mapping with name and domain"),
        pytest.param(("provider: [a]",), "provider: expected a mapping with name and domain"),
        pytest.param(("images: [1]",), "images[0]: expected a mapping with a url"),
        pytest.param(("images: https://e.org/i.png",), "images: expected a list, got text"),
        pytest.param(("images: [{width: 3}]",), "images[0]: missing url"),
        pytest.param(("images: [{url: '/i.png'}]",), "images[0]: url must be an absolute"),
        pytest.param(("images: [{url: [x]}]",), "images[0]: url: expected text, got a list"),
        pytest.param(("related: {}",), "related: expected a list, got a mapping"),
        pytest.param(("related: [3]",), "related[0]: expected a mapping with a title and a link"),
        pytest.param(
            ("related: [{title: x}]",), "related[0]: missing link: set webUrl or originalUrl"
        ),
        pytest.param(("related: [{webUrl: 'https://e.org/'}]",), "related[0]: missing title"),
        pytest.param(("topics: 3",), "topics: expected a list of topics, got a number"),
        pytest.param(("topics: {a: 1}",), "topics: expected a list of topics, got a mapping"),
        pytest.param(("quality: high",), "quality: expected a number, got text"),
        pytest.param(("quality: true",), "quality: expected a number, got true/false"),
        pytest.param(("quality: .inf",), "quality: expected a finite number"),
        pytest.param(("heat: [1]",), "heat: expected a number, got a list"),
        pytest.param(("published: yes please",), "published: expected true or false, got text"),
        pytest.param(("category: {a: 1}",), "category: expected text, got a mapping"),
        pytest.param(("excerpt: [a]",), "excerpt: expected text, got a list"),
        pytest.param(("updatedDateTime: [1]",), "updatedDateTime: expected an ISO 8601 date"),
        pytest.param(("originalUrl: true",), "originalUrl: expected text, got true/false"),
        pytest.param(
            ("originalUrl: 'https://e.org/\u202egnp.exe'",),
            "originalUrl is not a valid URL (it holds invisible characters)",
        ),
    ],
)
def test_an_optional_field_of_the_wrong_shape_is_dropped_with_a_warning_naming_it(
    lines: tuple[str, ...], expected: str
) -> None:
    result = reading(doc(*REQUIRED, *lines))

    [warning] = result.warnings
    assert warning.startswith(expected)
    assert article_fields(result.article) == BARE


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(("title: [a, b]",), "title: expected text, got a list"),
        pytest.param(("title: '   '",), "missing title"),
        pytest.param(("webUrl: [a]",), "webUrl: expected text, got a list"),
        pytest.param(("webUrl: '/relative'",), "webUrl must be an absolute http:// or https://"),
        pytest.param(
            ("webUrl: '/relative'", "originalUrl: 'https://e.org/o'"),
            "webUrl must be an absolute http:// or https://",
            id="webUrl-beside-a-good-originalUrl",
        ),
        pytest.param(("publishedDateTime: [1]",), "publishedDateTime: expected an ISO 8601 date"),
        pytest.param(("publishedDateTime: soon",), "publishedDateTime: not an ISO 8601 date"),
    ],
)
def test_only_title_link_and_date_reject_an_article(lines: tuple[str, ...], expected: str) -> None:
    keys = {line.split(":")[0] for line in lines}
    given = [line for line in REQUIRED if line.split(":")[0] not in keys]

    assert rejection(doc(*given, *lines, "images: [1]", "quality: high")).startswith(expected)


def test_a_bad_image_among_good_ones_is_dropped_alone() -> None:
    result = reading(
        doc(
            *REQUIRED,
            "images:",
            "  - {url: 'https://e.org/1.png', width: 10, height: 20}",
            "  - 42",
            "  - {url: 'https://e.org/3.png'}",
        )
    )

    assert result.article.images == (
        Image(url="https://e.org/1.png", width=10, height=20),
        Image(url="https://e.org/3.png"),
    )
    assert result.warnings == ("images[1]: expected a mapping with a url",)


def test_a_related_article_without_a_valid_link_is_dropped_alone() -> None:
    result = reading(
        doc(
            *REQUIRED,
            "related:",
            "  - {title: Kept, webUrl: 'https://e.org/kept'}",
            "  - {title: No link, webUrl: 'javascript:alert(1)'}",
            "  - {title: Also kept, originalUrl: 'https://e.org/also'}",
        )
    )

    assert [item.title for item in result.article.related] == ["Kept", "Also kept"]
    assert result.warnings == ("related[1]: webUrl must be an absolute http:// or https:// URL",)


def test_a_wrong_shaped_provider_publishes_without_an_author() -> None:
    result = reading(doc(*REQUIRED, "provider: [Reuters, reuters.com]", "category: news"))

    assert result.article.provider is None
    assert result.article.category == "news"
    assert result.warnings == ("provider: expected a mapping with name and domain",)


@pytest.mark.parametrize(
    ("lines", "expected", "warning"),
    [
        pytest.param(
            ("provider: {name: Example, domain: 'a/b'}",),
            Provider(name="Example"),
            "provider.domain: not a domain name",
            id="domain",
        ),
        pytest.param(
            ("provider: {name: [x], domain: Example.org}",),
            Provider(name="example.org", domain="example.org"),
            "provider.name: expected text, got a list",
            id="name",
        ),
    ],
)
def test_a_bad_part_of_the_provider_is_dropped_alone(
    lines: tuple[str, ...], expected: Provider, warning: str
) -> None:
    for _ in range(2):  # and again, once a provider was kept for the next article
        result = reading(doc(*REQUIRED, *lines))

        assert result.article.provider == expected
        assert result.warnings == (warning,)


def test_a_bad_part_of_an_item_is_dropped_alone_naming_the_item() -> None:
    result = reading(
        doc(
            *REQUIRED,
            "images: [{url: 'https://e.org/i.png', width: -5, height: 2.5}]",
            "related:",
            "  - title: Kept",
            "    webUrl: 'https://e.org/r'",
            "    publishedDateTime: [x]",
            "    provider: {name: P, domain: 'not a domain'}",
            "    excerpt: {a: 1}",
        )
    )

    assert result.article.images == (Image(url="https://e.org/i.png"),)
    assert result.article.related == (
        RelatedArticle(title="Kept", link="https://e.org/r", provider=Provider(name="P")),
    )
    assert result.warnings == (
        "images[0].width: expected a whole number of pixels",
        "images[0].height: expected a whole number of pixels",
        "related[0].publishedDateTime: expected an ISO 8601 date, got a list",
        "related[0].provider.domain: not a domain name",
        "related[0].excerpt: expected text, got a mapping",
    )


def test_bad_topics_are_dropped_and_the_good_ones_kept() -> None:
    result = reading(doc(*REQUIRED, "topics: [AI, [x], true, Robots, {a: 1}]"))

    assert result.article.topics == ("AI", "Robots")
    assert result.warnings == (
        "topics[1]: expected text, got a list",
        "topics[2]: expected text, got true/false",
        "topics[4]: expected text, got a mapping",
    )


def test_warnings_are_given_in_the_order_of_the_fields() -> None:
    result = reading(doc(*REQUIRED, "heat: x", "images: 1", "category: [x]", "excerpt: [x]"))

    assert [warning.split(":")[0] for warning in result.warnings] == [
        "excerpt",
        "category",
        "images",
        "heat",
    ]


def test_warnings_of_one_file_are_capped_and_the_rest_counted() -> None:
    topics = ", ".join(["[x]"] * 5000)
    result = reading(doc(*REQUIRED, f"topics: [AI, {topics}]"))

    assert result.article.topics == ("AI",)
    assert len(result.warnings) == MAX_WARNINGS
    assert result.warnings[0] == "topics[1]: expected text, got a list"
    more = 5000 - (MAX_WARNINGS - 1)
    assert result.warnings[-1] == f"{more} more fields or items of the wrong shape"


def test_a_clean_article_has_no_warnings() -> None:
    assert reading(seed_text(extra="images: [{url: 'https://e.org/i.png'}]\n")).warnings == ()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(("provider: Reuters",), Provider(name="Reuters"), id="name-only"),
        pytest.param(
            ("provider: {domain: Example.ORG}",),
            Provider(name="example.org", domain="example.org"),
            id="domain-only",
        ),
        pytest.param(("provider: '  '",), None, id="blank"),
        pytest.param((), None, id="absent"),
    ],
)
def test_provider_is_repaired_from_what_is_given(
    lines: tuple[str, ...], expected: Provider | None
) -> None:
    assert parse(doc(*REQUIRED, *lines)).provider == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(("topics: AI",), ("AI",), id="one-as-text"),
        pytest.param(
            ("topics: [AI, ' AI ', '', '   ', 'Computer   Vision', AI, 2024]",),
            ("AI", "Computer Vision", "2024"),
            id="duplicates-and-empties",
        ),
        pytest.param(("topics: []",), (), id="empty-list"),
        pytest.param((), (), id="absent"),
    ],
)
def test_topics_are_cleaned(lines: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert parse(doc(*REQUIRED, *lines)).topics == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(("published: true",), True),
        pytest.param(("published: false",), False),
        pytest.param((), True, id="absent"),
    ],
)
def test_published_flag_defaults_to_true(lines: tuple[str, ...], expected: bool) -> None:
    assert parse(doc(*REQUIRED, *lines)).is_published is expected


def test_a_huge_number_is_dropped_not_a_crash() -> None:
    # Known bug: float() of a 400-digit int raises OverflowError out of parse_article.
    assert reading(doc(*REQUIRED, "quality: 1" + "0" * 400)).warnings == (
        "quality: number too large",
    )


def test_a_number_too_long_for_python_is_rejected_not_a_crash() -> None:
    # Known bug: YAML's int() raises ValueError (int max str digits) out of parse_article.
    assert rejection(doc(*REQUIRED, "quality: 1" + "0" * 5000))


# --- discovery --------------------------------------------------------------


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(seed_text(), encoding="utf-8")


def relative(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_discover_recurses_into_subfolders_and_sorts(seeds: Path) -> None:
    touch(seeds, "z.txt", "sub/deeper/c.txt", "a.md", "sub/b.txt")

    assert relative(discover(seeds, PATTERNS), seeds) == [
        "a.md",
        "sub/b.txt",
        "sub/deeper/c.txt",
        "z.txt",
    ]


def test_discover_ignores_files_not_matching_the_patterns(seeds: Path) -> None:
    touch(seeds, "keep.txt", "notes.json", "README", "image.png", "keep.txt.bak")

    assert relative(discover(seeds, PATTERNS), seeds) == ["keep.txt"]


@pytest.mark.parametrize(
    "litter",
    [
        ".hidden.txt",
        "draft.txt~",
        ".#draft.txt",
        "#draft.txt#",
        "draft.txt.swp",
        "draft.txt.swx",
        "draft.tmp",
        "draft.txt.part",
        ".git/HEAD.txt",
        ".cache/deep/x.txt",
        "backup~/x.txt",
    ],
)
def test_discover_ignores_dotfiles_and_editor_litter(seeds: Path, litter: str) -> None:
    # Match everything, so only the litter rule can leave these out.
    touch(seeds, "keep.txt", litter)

    assert relative(discover(seeds, ("*",)), seeds) == ["keep.txt"]


@pytest.mark.parametrize("target", [".", ".."], ids=["to-itself", "to-its-parent"])
def test_discover_survives_a_directory_symlink_loop(seeds: Path, target: str) -> None:
    touch(seeds, "a.txt", "sub/b.txt")
    (seeds / "sub" / "loop").symlink_to(target, target_is_directory=True)

    assert relative(discover(seeds, PATTERNS), seeds) == ["a.txt", "sub/b.txt"]


def test_discover_lists_a_folder_reached_two_ways_once(seeds: Path) -> None:
    touch(seeds, "sub/b.txt")
    (seeds / "alias").symlink_to("sub", target_is_directory=True)

    found = discover(seeds, PATTERNS)

    assert len(found) == 1
    assert found[0].name == "b.txt"


def test_discover_follows_a_symlink_to_a_folder_outside(seeds: Path, tmp_path: Path) -> None:
    touch(tmp_path / "elsewhere", "x.txt")
    (seeds / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    assert relative(discover(seeds, PATTERNS), seeds) == ["linked/x.txt"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_discover_skips_a_fifo(seeds: Path) -> None:
    touch(seeds, "a.txt")
    os.mkfifo(seeds / "pipe.txt")

    assert relative(discover(seeds, PATTERNS), seeds) == ["a.txt"]


def test_discover_skips_a_file_symlink_loop(seeds: Path) -> None:
    touch(seeds, "a.txt")
    (seeds / "self.txt").symlink_to("self.txt")

    assert relative(discover(seeds, PATTERNS), seeds) == ["a.txt"]


def test_a_dangling_symlink_is_discovered_and_reported(seeds: Path) -> None:
    (seeds / "gone.txt").symlink_to("missing.txt")

    paths = discover(seeds, PATTERNS)
    result = read_all(paths, UTC)

    assert relative(paths, seeds) == ["gone.txt"]
    assert [error.reason for error in result.errors] == ["cannot read file: broken symbolic link"]


# --- reading a folder -------------------------------------------------------


def test_read_all_returns_good_articles_and_errors_side_by_side(
    seeds: Path, write_seed: SeedWriter
) -> None:
    write_seed("a.txt", title="First")
    bad = write_seed("b.txt", "no front matter here\n")
    write_seed("c.txt", title="Third", link="https://example.org/c")

    result = read_all(discover(seeds, PATTERNS), UTC)

    assert [article.title for article in result.articles] == ["First", "Third"]
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.path == str(bad)
    assert error.reason == "no front matter: the file must begin with a '---' line"
    assert str(error) == f"{bad}: {error.reason}"


def test_read_all_keeps_going_after_many_kinds_of_bad_file(
    seeds: Path, write_seed: SeedWriter
) -> None:
    write_seed("1.txt", b"\xff\xfe not utf-8")
    write_seed("2.txt", doc("title: [unclosed"))
    write_seed("3.txt", doc("- a list"))
    write_seed("4.txt", title="Good")
    write_seed("5.txt", seed_text(link="ftp://example.org/"))

    result = read_all(discover(seeds, PATTERNS), UTC)

    assert [article.title for article in result.articles] == ["Good"]
    assert [Path(error.path).name for error in result.errors] == [
        "1.txt",
        "2.txt",
        "3.txt",
        "5.txt",
    ]


def test_read_all_reads_through_the_progress_wrapper(write_seed: SeedWriter) -> None:
    paths = [write_seed("a.txt"), write_seed("b.txt", link="https://example.org/b")]
    seen: list[Path] = []

    def progress(items: Sequence[Path]) -> Iterator[Path]:
        for item in items:
            seen.append(item)
            yield item

    result = read_all(paths, UTC, progress=progress)

    assert seen == paths
    assert len(result.articles) == 2


def test_read_article_names_an_unreadable_path(seeds: Path) -> None:
    with pytest.raises(ArticleError) as caught:
        read_article(seeds / "missing.txt", UTC)

    assert caught.value.reason.startswith("cannot read file: ")
    assert caught.value.path == str(seeds / "missing.txt")


# --- duplicates -------------------------------------------------------------


def article(path: str, link: str = "https://example.org/a", updated: str | None = None) -> Article:
    extra = f"updatedDateTime: {updated}\n" if updated else ""
    return parse(seed_text(title=path, link=link, extra=extra), path=path)


@pytest.mark.parametrize(
    "other_link",
    [
        "https://EXAMPLE.org/a",
        "https://example.org/a#comments",
        "HTTPS://Example.Org:443/a#top",
    ],
)
def test_the_same_link_spelled_differently_is_one_article(other_link: str) -> None:
    kept, duplicates = merge_duplicates([article("a.txt"), article("b.txt", link=other_link)])

    assert len(kept) == 1
    assert len(duplicates) == 1


def test_different_links_are_different_articles() -> None:
    kept, duplicates = merge_duplicates(
        [
            article("a.txt"),
            article("b.txt", link="https://example.org/b"),
            article("c.txt", link="https://example.org/a?page=2"),
            article("d.txt", link="http://example.org/a"),
        ]
    )

    assert len(kept) == 4
    assert duplicates == []


@pytest.mark.parametrize("reverse", [False, True], ids=["newer-last", "newer-first"])
def test_the_later_updated_duplicate_wins(reverse: bool) -> None:
    older = article("z-older.txt", updated="2024-05-02T00:00:00Z")
    newer = article("a-newer.txt", link="https://example.org/a#x", updated="2024-06-01T00:00:00Z")
    group = [newer, older] if reverse else [older, newer]

    kept, duplicates = merge_duplicates(group)

    assert kept == [newer]
    assert duplicates == [
        Duplicate(link="https://example.org/a", kept="a-newer.txt", dropped=("z-older.txt",))
    ]


@pytest.mark.parametrize("reverse", [False, True], ids=["given-sorted", "given-reversed"])
def test_on_a_tie_the_path_that_sorts_last_wins(reverse: bool) -> None:
    first, last = article("2021/a.txt"), article("2021/b.txt")
    group = [last, first] if reverse else [first, last]

    kept, duplicates = merge_duplicates(group)

    assert kept == [last]
    assert duplicates == [
        Duplicate(link="https://example.org/a", kept="2021/b.txt", dropped=("2021/a.txt",))
    ]


def test_the_duplicate_record_names_every_dropped_file() -> None:
    kept, duplicates = merge_duplicates(
        [
            article("c.txt", updated="2024-06-03T00:00:00Z"),
            article("a.txt", updated="2024-06-01T00:00:00Z"),
            article("b.txt", updated="2024-06-02T00:00:00Z"),
            article("other.txt", link="https://example.org/other"),
        ]
    )

    assert sorted(item.source for item in kept) == ["c.txt", "other.txt"]
    assert duplicates == [Duplicate("https://example.org/a", "c.txt", ("a.txt", "b.txt"))]


def test_duplicates_share_one_entry_id() -> None:
    one = article("a.txt")
    other = article("b.txt", link="https://EXAMPLE.org/a#top")

    assert one.id == other.id
    assert one.id != article("c.txt", link="https://example.org/c").id


# --- slugs ------------------------------------------------------------------


SLUG = re.compile(r"^[a-z0-9-]+$")


@pytest.mark.parametrize(
    ("topic", "slug"),
    [
        ("Computer Vision", "computer-vision"),
        ("AI", "ai"),
        ("Künstliche Intelligenz", "kunstliche-intelligenz"),
        ("  Machine   Learning  ", "machine-learning"),
        ("C++", "c"),
        ("Rock & Roll", "rock-roll"),
    ],
)
def test_slug_for_a_topic(topic: str, slug: str) -> None:
    assert slug_for(topic) == slug


@pytest.mark.parametrize("topic", ["!!!", "???", "+++", "", "   "])
def test_a_topic_without_letters_gets_a_topic_fallback(topic: str) -> None:
    slug = slug_for(topic)

    assert slug.startswith("topic-")
    assert SLUG.match(slug)


def test_fallback_slugs_differ_for_different_topics() -> None:
    assert slug_for("!!!") != slug_for("???")


@pytest.mark.parametrize("topic", ["../etc", "../../etc/passwd", "a/b", "..", "/", "a\\..\\b"])
def test_a_slug_cannot_name_a_path(topic: str) -> None:
    slug = slug_for(topic)

    assert "/" not in slug
    assert "\\" not in slug
    assert ".." not in slug
    assert SLUG.match(slug)


def test_assign_slugs_keeps_colliding_topics_apart() -> None:
    slugs = assign_slugs(["C++", "C", "c"])

    assert set(slugs) == {"C++", "C", "c"}
    assert len(set(slugs.values())) == 3
    assert slugs["C"] == "c"  # the name that sorts first keeps the plain slug
    assert slugs["C++"].startswith("c-")
    assert all(SLUG.match(slug) for slug in slugs.values())


def test_assign_slugs_is_deterministic() -> None:
    topics = ["C++", "C", "C#", "AI", "Computer Vision"]

    assert assign_slugs(topics) == assign_slugs(list(reversed(topics)))
    assert assign_slugs(topics) == assign_slugs(topics)


def test_a_suffixed_slug_does_not_depend_on_the_other_topics() -> None:
    assert assign_slugs(["C", "C++"])["C++"] == assign_slugs(["C", "C#", "C++", "AI"])["C++"]


def test_assign_slugs_gives_distinct_slugs_even_against_a_lookalike_topic() -> None:
    # Known bug: "C++" gets "c-" + a hash; a topic literally spelled like that
    # slug keeps it as its plain slug, so two topic feeds share one file name.
    suffixed = assign_slugs(["C", "C++"])["C++"]
    lookalike = suffixed.replace("-", " ")

    slugs = assign_slugs(["C", "C++", lookalike])

    assert len(set(slugs.values())) == 3


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_slugs_to_lowercase_ascii_words(text: str) -> None:
    slug = slug_for(text)

    assert SLUG.match(slug)
    assert ".." not in slug
    assert 0 < len(slug) <= 80


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=6), max_size=12))
def test_any_topics_get_distinct_safe_slugs(topics: list[str]) -> None:
    slugs = assign_slugs(topics)

    assert set(slugs) == set(topics)
    assert len(set(slugs.values())) == len(slugs)
    assert all(SLUG.match(slug) for slug in slugs.values())


# --- nothing but an Article or an ArticleError ------------------------------


def article_or_error(raw: bytes) -> Article | ArticleError:
    try:
        return parse_article(raw, "x.txt", UTC)
    except ArticleError as error:
        return error


def check_outcome(outcome: Article | ArticleError) -> None:
    if isinstance(outcome, ArticleError):
        assert outcome.path == "x.txt"
        assert outcome.reason
        assert str(outcome) == f"x.txt: {outcome.reason}"
        return
    assert outcome.title
    assert outcome.title == outcome.title.strip()
    assert outcome.link.lower().startswith(("http://", "https://"))
    assert outcome.published.utcoffset() is not None
    assert outcome.updated >= outcome.published


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\xef\xbb\xbf---\n---\n")
@example(b"---\n\xff\n---\n")
def test_any_bytes_give_an_article_or_an_article_error(raw: bytes) -> None:
    check_outcome(article_or_error(raw))


@settings(max_examples=300, deadline=None)
@given(st.text())
@example("a: &a [*a, *a]")
@example("[" * 5000)
@example("{a: 1, a: 2}")
@example("? [a]\n: b")
@example("title: !!python/object:os.system x")
def test_any_front_matter_text_gives_an_article_or_an_article_error(text: str) -> None:
    check_outcome(article_or_error(f"---\n{text}\n---\n".encode()))


FIELDS = [
    "title",
    "webUrl",
    "originalUrl",
    "publishedDateTime",
    "updatedDateTime",
    "excerpt",
    "category",
    "topics",
    "provider",
    "images",
    "related",
    "quality",
    "heat",
    "published",
    "secured",
]
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "https://example.org/a",
            "ftp://example.org/",
            "javascript:alert(1)",
            "2021-06-15T15:20:00+05:30",
            "2021-06-15",
            "example.org",
            "<script>x</script>",
        ]
    )
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["name", "domain", "url", "width", "title"]), inner)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), _values, max_size=8))
def test_any_field_values_give_an_article_or_an_article_error(overrides: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "title": "A title",
        "webUrl": "https://example.org/a",
        "publishedDateTime": "2021-06-15T15:20:00Z",
        "secured": SECRET,
    }
    fields.update(overrides)
    fields["secured"] = SECRET
    raw = ("---\n" + yaml.safe_dump(fields) + "---\n").encode()

    outcome = article_or_error(raw)

    check_outcome(outcome)
    shown = str(outcome) if isinstance(outcome, ArticleError) else repr(outcome)
    assert SECRET not in shown
    if isinstance(outcome, ArticleError):  # only the fields an entry cannot exist without
        assert any(field in outcome.reason for field in _REQUIRED_FIELDS), outcome.reason
    else:
        warnings = parse_seed(raw, "x.txt", UTC).warnings
        assert all(SECRET not in warning and "\n" not in warning for warning in warnings)


_REQUIRED_FIELDS = ("title", "webUrl", "originalUrl", "publishedDateTime")


def test_property_helpers_can_fail() -> None:
    # Guards the guards: check_outcome must reject an Article that breaks the rules.
    good = parse(seed_text())
    broken = good.rewritten(title_utf8=b"")
    with pytest.raises(AssertionError):
        check_outcome(broken)
    assert isinstance(article_or_error(b"nope"), ArticleError)
    assert isinstance(article_or_error(seed_text().encode()), Article)


# --- nesting depth (the limit itself: tests/seeds/test_yamlload.py) ------------------


def test_a_deeply_nested_seed_is_named_and_the_process_lives(tmp_path: Path) -> None:
    """50,000 levels crashed libyaml's composer (SIGSEGV) before the limit."""
    from tests.faults_support import make_site, run_build

    config = make_site(tmp_path)
    seeds = tmp_path / "seeds"
    (seeds / "deep.txt").write_text(
        "---\ntitle: Deep\nrelated:\n  " + "- " * 50_000 + "x\n---\n", encoding="utf-8"
    )
    (seeds / "good.txt").write_text(seed_text(title="Still here"), encoding="utf-8")
    result = run_build(config, "--no-cache")
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    reason = f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
    assert f"{seeds / 'deep.txt'}: {reason}" in result.stderr
    assert "Still here" in (tmp_path / "output" / "all.atom.xml").read_text(encoding="utf-8")


def test_a_deeply_nested_config_is_a_config_error(tmp_path: Path) -> None:
    from feeds.config import load_config
    from feeds.errors import ConfigError

    path = tmp_path / "feeds.yaml"
    path.write_text("title:\n  " + "- " * 50_000 + "x\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels deep"):
        load_config(path)
