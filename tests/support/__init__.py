"""Test support code: local stand-ins for external services."""
