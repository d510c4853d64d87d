"""Specs of feeds/model/: the values that flow between stages."""
