"""Specs of feeds/compat/: each reliance on a dependency's internals."""
