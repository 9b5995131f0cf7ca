"""Shared core: settings, steps, domain objects and adapters used by every script."""
