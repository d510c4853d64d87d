"""Specs of feeds/build/: the one-shot build, its cache and its writes."""
