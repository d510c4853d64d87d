"""Seed files in, `Article` values or `ArticleError`s out."""
