"""Test support shared across the suite: template assertions, rendering, local servers."""
