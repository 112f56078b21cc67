"""Shared page helpers that know nothing of caching: link-preview metadata, the editor userbar."""
