"""The one-shot build: is anything to do, read, plan, render, write, remember."""
