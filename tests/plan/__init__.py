"""Specs of feeds/plan/: which feeds exist and what each holds."""
