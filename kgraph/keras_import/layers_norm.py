"""Translators: filled in below."""
TRANSLATORS = {}
