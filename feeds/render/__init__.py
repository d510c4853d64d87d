"""Rendering feeds: one module per format (named in `feeds.formats`), all fed the
same `FeedPlan`, and the pages about all of them (index_html, opml)."""
