"""Test kit for adapters: sandbox peers and helpers shared by the hub and plugin tests."""
