"""An article's images and related articles are kept compact, and behave as tuples."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from feeds.model import Article, Image, Provider, RelatedArticle
from feeds.model.compact import Images, Related, provider_of, shared, shared_topics

_text = st.text(min_size=1, max_size=40)
_images = st.builds(
    Image, _text, st.none() | st.integers(0, 10_000), st.none() | st.integers(0, 10_000)
)
_dates = st.none() | st.datetimes(
    min_value=datetime(1990, 1, 1), timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])
)
_related = st.builds(
    RelatedArticle,
    _text,
    _text,
    _dates,
    st.none() | st.builds(Provider, _text, st.none() | _text),
    st.none() | _text,
)


@given(st.lists(_images, max_size=4))
def test_images_give_back_what_they_were_given(items: list[Image]) -> None:
    images = Images(items)
    assert tuple(images) == tuple(items)
    assert images == tuple(items)
    assert len(images) == len(items)
    assert images[:1] == tuple(items[:1])
    assert pickle.loads(pickle.dumps(images)) == images
    assert repr(images) == repr(tuple(items))


@given(st.lists(_related, max_size=4))
def test_related_articles_give_back_what_they_were_given(items: list[RelatedArticle]) -> None:
    related = Related(items)
    assert tuple(related) == tuple(items)
    for kept, given_ in zip(related, items, strict=True):  # the same offset, not only instant
        assert (kept.published and kept.published.isoformat()) == (
            given_.published and given_.published.isoformat()
        )
    assert Related(related) == related
    assert Related.from_fields(related.fields()) == related


@given(st.lists(_related, max_size=3), st.lists(_related, max_size=3))
def test_equal_means_equal_items_and_equal_hashes(
    one: list[RelatedArticle], other: list[RelatedArticle]
) -> None:
    assert (Related(one) == Related(other)) == (tuple(one) == tuple(other))
    if tuple(one) == tuple(other):
        assert hash(Related(one)) == hash(Related(other))


def test_shared_or_interned_values_do_not_change_the_bytes() -> None:
    name = "".join(["Reu", "ters"])  # not interned
    plain = Related([RelatedArticle("T", "https://e.org/", None, Provider(name), None)])
    common = provider_of("Reuters")
    sharing = Related([RelatedArticle("T", "https://e.org/", None, common, None)] * 1)
    assert plain == sharing
    assert hash(plain) == hash(sharing)


def test_images_and_related_articles_are_not_equal_to_each_other() -> None:
    assert Images() != Related()
    assert Images() == ()


@given(st.lists(_related, max_size=4), st.lists(_images, max_size=3))
def test_blobs_come_back_as_they_were_kept(
    related: list[RelatedArticle], images: list[Image]
) -> None:
    kept_related, kept_images = Related(related), Images(images)
    assert Related.from_blob(kept_related.blob, lambda fields: None) == kept_related
    assert Images.from_blob(kept_images.blob, lambda fields: None) == kept_images
    assert Related.from_blob(kept_related.blob, lambda fields: None).blob is kept_related.blob


def _article(images: tuple[Image, ...], related: tuple[RelatedArticle, ...]) -> Article:
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    return Article(
        id="https://e.org/a",
        title_utf8="Café “quoted”".encode(),
        link="https://e.org/a",
        original_link=None,
        published=moment,
        updated=moment,
        summary_utf8="<p>Über</p>".encode(),
        category=None,
        topics=(),
        provider=None,
        images=images,
        related=related,
        quality=None,
        heat=None,
        is_published=True,
        source="a.md",
    )


@given(st.lists(_related, max_size=3), st.lists(_images, max_size=3))
def test_an_article_keeps_its_lists_compact_and_gives_plain_values(
    related: list[RelatedArticle], images: list[Image]
) -> None:
    article = _article(tuple(images), tuple(related))
    assert isinstance(article.images, Images)
    assert isinstance(article.related, Related)
    assert tuple(article.images) == tuple(images)
    assert tuple(article.related) == tuple(related)
    kept = _article(Images(images), Related(related))  # as the parse cache gives them
    assert kept == article
    assert hash(kept) == hash(article)
    assert article.rewritten(images=tuple(images)) == article


def test_an_article_gives_its_text_as_text() -> None:
    article = _article((), ())
    assert article.title == "Café “quoted”"
    assert article.summary_html == "<p>Über</p>"


def test_equal_values_are_kept_once() -> None:
    one, other = "".join(["Tech", "nology"]), "".join(["Techno", "logy"])
    assert shared(one) is shared(other)
    assert shared_topics((one, "AI")) is shared_topics((other, "".join(["A", "I"])))
    assert provider_of("Reuters", "reuters.com") is provider_of("Reuters", "reuters.com")


def test_the_encodings_import_before_the_model() -> None:
    # compact reads the model's values, and the model keeps its lists in
    # compact: either may be imported first.
    code = "import feeds.model.compact, feeds.model; print(feeds.model.Article)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-200, 2000).map(float))
def test_articles_share_one_float_per_whole_score_and_keep_every_score_exactly(
    score: float,
) -> None:
    first = replace(_article((), ()), quality=score, heat=score)
    second = replace(_article((), ()), quality=float(str(score)), heat=None)
    assert first.quality == first.heat == second.quality == score
    assert str(first.quality) == str(score)  # -0.0 stays -0.0
    if score and score.is_integer() and -100 <= score <= 1000:
        assert first.quality is first.heat is second.quality
