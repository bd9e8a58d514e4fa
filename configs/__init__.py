"""Variant specifications (YAML), shipped as package data ``hear_byols.configs``."""
