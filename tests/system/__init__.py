"""Specs of feeds/system/: safe opens and owned folders."""
