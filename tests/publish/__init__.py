"""Specs of `feeds publish`: pushing the output folder to S3-compatible storage."""
