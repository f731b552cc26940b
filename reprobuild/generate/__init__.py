"""Dockerfile generation from a Lock and the project config."""
