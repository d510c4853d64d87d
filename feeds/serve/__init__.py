"""The embedded read-only HTTP server and its memory of files."""
