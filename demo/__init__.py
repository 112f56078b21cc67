"""The demo site (`manage.py load_demo`): it builds every app's pages, so it may import every app."""
