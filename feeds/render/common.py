"""What every format says the same way: titles, URLs, dates and entry HTML."""

from __future__ import annotations

import re
from datetime import datetime
from html import escape

from feeds.config import Config
from feeds.model import Article, RelatedArticle
from feeds.plan.plans import FeedPlan
from feeds.seeds.text import sanitize_content
from feeds.urls import join_url

#: RFC 5005 Feed Paging and Archiving.
FH_NS = "http://purl.org/syndication/history/1.0"

GENERATOR = "feeds"
GENERATOR_URI = "https://pypi.org/project/feeds/"

_BLOCK_TAG = re.compile(r"<(?:p|ul|ol|blockquote|pre)\b", re.IGNORECASE)


_ABOUT = {
    "topic": "on the topic",
    "category": "in the category",
    "provider": "from",
    "custom": "selected as",
}


def feed_title(plan: FeedPlan, config: Config) -> str:
    if plan.title:
        return plan.title
    return config.title if plan.label is None else f"{config.title}: {plan.label}"


def feed_description(plan: FeedPlan, config: Config) -> str:
    if plan.description:
        return plan.description
    if plan.label is None:
        return config.description
    return f"{config.description}, {_ABOUT[plan.kind]} {plan.label}"


def feed_url(plan: FeedPlan, config: Config, suffix: str) -> str:
    return stem_url(plan.stem, config, suffix)


def stem_url(stem: str, config: Config, suffix: str) -> str:
    return join_url(config.base_url, stem + suffix)


def feed_updated(plan: FeedPlan) -> datetime:
    """The newest ``updated`` among the entries: moves only when content moves."""
    return plan.updated


def entry_html(article: Article) -> str:
    """The entry's HTML content: lead image, excerpt, related articles, source."""
    parts: list[str] = []
    if article.images:
        image = article.images[0]
        size = "".join(
            f' {name}="{value}"'
            for name, value in (("width", image.width), ("height", image.height))
            if value
        )
        parts.append(
            f'<figure><img src="{escape(image.url)}" alt="{escape(article.title)}"{size}></figure>'
        )
    if article.summary_html:
        summary = article.summary_html
        parts.append(summary if _BLOCK_TAG.search(summary) else f"<p>{summary}</p>")
    if article.related:
        items = "".join(f"<li>{_related_html(related)}</li>" for related in article.related)
        parts.append(f"<h3>Related</h3><ul>{items}</ul>")
    source = article.provider.name if article.provider else None
    target = article.original_link or article.link
    label = f"Read the full article at {escape(source)}" if source else "Read the full article"
    parts.append(f'<p><a href="{escape(target)}">{label}</a></p>')
    return sanitize_content("\n".join(parts))


def _related_html(related: RelatedArticle) -> str:
    html = f'<a href="{escape(related.link)}">{escape(related.title)}</a>'
    details = []
    if related.provider:
        details.append(escape(related.provider.name))
    if related.published:
        stamp = related.published.isoformat()
        details.append(f'<time datetime="{stamp}">{related.published.date().isoformat()}</time>')
    if details:
        html += " (" + ", ".join(details) + ")"
    if related.summary:
        html += f"<br><small>{escape(related.summary)}</small>"
    return html


def categories(article: Article) -> list[str]:
    """Topics then the category, without repeats."""
    terms = dict.fromkeys(article.topics)
    if article.category:
        terms.setdefault(article.category)
    return list(terms)
