"""Pydantic schemas at the edges: what the API and the CLI accept and return."""
