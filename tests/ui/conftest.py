"""Fixtures for the dashboard tests: a live `ripcord ui` and a headless Chromium."""

from tests.uiserver import chromium, dashboard

__all__ = ["chromium", "dashboard"]
