"""Benchmarks (commands that print tables, not timed unit tests). Run: ``make bench``."""
