"""The ``ekita-hub`` command line (typer)."""
