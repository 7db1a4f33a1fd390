"""Command groups several plugins share (``ekita-hub peer …``)."""

from __future__ import annotations

import typer


def sub_app(cli: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-command group ``name`` of ``cli``, created by the first plugin that asks."""
    for group in cli.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    cli.add_typer(sub, name=name)
    return sub


def peer_app(cli: typer.Typer) -> typer.Typer:
    """``ekita-hub peer``: where every plugin adds its sandbox peer command."""
    return sub_app(cli, "peer", "Sandbox peers of the city's systems, for tests and demos.")
