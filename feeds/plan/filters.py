"""Custom feeds' filters: which articles a named feed selects."""

from __future__ import annotations

from functools import cache

from feeds.config import CustomFeedConfig
from feeds.model import Article
from feeds.plan.matching import compile_pattern
from feeds.seeds.text import html_to_text


def selects(feed: CustomFeedConfig, article: Article) -> bool:
    """Whether ``article`` passes every filter ``feed`` sets (an unset filter passes all)."""
    if feed.published_only and not article.is_published:
        return False
    topics = {topic.casefold() for topic in article.topics}
    if feed.topics_any and not topics & _folded(feed.topics_any):
        return False
    if feed.topics_all and not _folded(feed.topics_all) <= topics:
        return False
    if feed.categories and (article.category or "").casefold() not in _folded(feed.categories):
        return False
    if feed.provider_domains:
        domain = (article.provider.domain if article.provider else None) or ""
        if domain.casefold() not in _folded(feed.provider_domains):
            return False
    if feed.min_quality is not None and (
        article.quality is None or article.quality < feed.min_quality
    ):
        return False
    if feed.include or feed.exclude:
        return _matches_text(feed, article)
    return True


def _matches_text(feed: CustomFeedConfig, article: Article) -> bool:
    """Whether the article's title and summary pass ``include`` and ``exclude``."""
    summary = html_to_text(article.summary_html)
    # No newline at the end: RE2's `$` is only the very end, where Python's
    # also matched before a final newline.
    text = f"{article.title}\n{summary}" if summary else article.title
    if feed.include and not any(compile_pattern(p).search(text) for p in feed.include):
        return False
    return not any(compile_pattern(p).search(text) for p in feed.exclude)


@cache
def _folded(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(value.casefold() for value in values)
