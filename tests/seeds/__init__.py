"""Specs of feeds/seeds/: seed files in, articles or reasons out."""
