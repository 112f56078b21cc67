"""Receivers that keep derived data in step with pages."""
