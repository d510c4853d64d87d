"""An article's images and related articles are kept compact, and behave as tuples."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from feeds.model import Image, Images, Provider, Related, RelatedArticle, provider_of

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
