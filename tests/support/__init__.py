"""Helpers shared by several test packages (builders of inputs, measuring tools)."""
