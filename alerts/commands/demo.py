"""`alerts demo`: run the guided demo on embedded defaults."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from alerts.commands.context import console


def demo(
    folder: Path = typer.Option(
        None, "--dir", help="Folder for the demo's database (new or empty; default: a temp folder)."
    ),
) -> None:
    """Run the whole service on a demo town, step by step (SQLite, console SMS)."""
    from alerts.demo.narrator import Narrator
    from alerts.demo.run import run_demo

    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="alerts-demo-"))
    counter = iter(range(1, 100))
    narrator = Narrator(
        step=lambda title: console.print(f"\n[bold cyan]{next(counter)}. {title}[/bold cyan]"),
        say=lambda line: console.print(f"   {line}", markup=False),
    )
    services = run_demo(folder, narrator)
    services.close()
    console.print(f"\nDemo finished. Its database stays in {folder}.")
