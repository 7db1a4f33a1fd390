"""Reference data shipped with the package (Dresden's statistical districts)."""
