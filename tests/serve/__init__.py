"""Specs of feeds/serve/: the embedded HTTP server."""
