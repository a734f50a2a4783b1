"""Consumers of normalised events: Markdown in notebooks, plain text in terminals."""
