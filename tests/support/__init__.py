"""Helpers shared by the integration tests: local image builders and a skopeo driver."""
