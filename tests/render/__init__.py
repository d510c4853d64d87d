"""Specs of feeds/render/: the documents of every format."""
