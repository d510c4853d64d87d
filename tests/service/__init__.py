"""Specs of feeds/service/: `feeds run` as a real process, and its parts."""
