"""`alerts templates list | show`: the alert templates, both languages, their variables and cost."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

import typer

from alerts.commands.console_text import plain, without_controls, wrapped_lines
from alerts.commands.context import JSON_OPTION, console, print_json, state

if TYPE_CHECKING:
    from alerts.config import Settings
    from alerts.core.composition import Templates
    from alerts.core.template_catalog import TemplateInfo

app = typer.Typer(
    help="Alert templates (send --template): both languages, variables, segments.",
    no_args_is_help=True,
)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every template: what it is for, the --var it takes, segments of a sample per language."""
    from alerts.commands.tables import Column, print_table
    from alerts.core.template_catalog import describe_templates

    settings = state(ctx).settings
    found = describe_templates(
        _templates(settings), _service_names(settings), settings.send.max_segments
    )
    if as_json:
        print_json([info.as_dict() for info in found])
        return
    columns = [
        Column("name"),
        Column("fr/en", justify="right"),
        Column("--var", wrap=True),
        Column("for", wrap=True, min_width=20),
    ]
    rows = [
        (
            info.name,
            "/".join(str(info.texts[lang].sample.segments) for lang in ("fr", "en")),
            ", ".join(info.to_give()) or "-",
            info.purpose,
        )
        for info in found
    ]
    print_table(columns, rows)
    console.print(
        "fr/en: SMS segments of a sample notice in each language (zone "
        f"{plain(_sample_zone())}, a date and time, a range of hours); "
        "'alerts templates show NAME' for the texts.",
        soft_wrap=False,
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The template's name (see 'alerts templates list')."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One template in French and English: its variables, a sample, its encoding and segments."""
    from alerts.core.template_catalog import describe_template

    settings = state(ctx).settings
    info = describe_template(
        _templates(settings), name, _service_names(settings), settings.send.max_segments
    )
    if as_json:
        print_json(info.as_dict())
        return
    _print_template(info)


def _print_template(info: TemplateInfo) -> None:
    from alerts.core.composition import LANGS, LANGUAGE_NAMES
    from alerts.core.template_catalog import FILLED_IN, VARIABLES

    width = max(console.width, 40)
    console.print(f"[bold]{plain(info.name)}[/bold] ({info.source}; alert kind {info.kind})")
    console.print(plain(info.purpose), soft_wrap=False)
    if info.gsm_only:
        console.print("GSM-7 only (templates.gsm_only): accents GSM-7 lacks are replaced.")
    console.print("[bold]variables[/bold]")
    pad = max((len(name) for name in info.variables), default=0)
    for name in info.variables:
        note = VARIABLES.get(name, "a value given with --var")
        _print_wrapped(f"{name:<{pad}}  {note}", "  ", "  " + " " * (pad + 2), width)
    for lang in LANGS:
        text = info.texts[lang]
        sample = text.sample
        segments = f"{sample.segments} segment{'s' if sample.segments != 1 else ''}"
        console.print(
            f"[bold]{lang}[/bold] {LANGUAGE_NAMES[lang]}: {sample.encoding}, {segments} "
            f"({len(sample.text)} characters) on the sample"
        )
        _print_wrapped(text.template, "  template  ", " " * 12, width)
        _print_wrapped(sample.text, "  sample    ", " " * 12, width)
        if info.max_segments is not None and sample.segments > info.max_segments:
            console.print(
                f"[yellow]warning:[/yellow] over send.max_segments ({info.max_segments}): "
                "a send with values this long is refused",
                soft_wrap=False,
            )
        if sample.encoding == "UCS-2":
            console.print(
                "[yellow]warning:[/yellow] UCS-2 (70 characters a segment); --gsm-only "
                "replaces the accents GSM-7 lacks",
                soft_wrap=False,
            )
    given = ", ".join(f"{key}={value}" for key, value in info.sample_values.items())
    _print_wrapped(f"sample values: {given}", "", "  ", width)
    # One option a line, with the shell's continuations: copied whole, it runs as is.
    lines = [f"alerts send --kind {info.kind} --zone ZONE --template {info.name}"]
    lines += [
        f"--var {shlex.quote(f'{key}={value}')}"
        for key, value in info.sample_values.items()
        if key.partition(".")[0] not in FILLED_IN
    ]
    lines.append("--dry-run")
    console.print("try:")
    for number, line in enumerate(lines):
        indent = "  " if number == 0 else "      "
        ending = " \\" if number < len(lines) - 1 else ""
        # Not through plain(): rich's escape doubles a closing backslash.
        console.print(without_controls(indent + line + ending), markup=False)


def _print_wrapped(text: str, first: str, rest: str, width: int) -> None:
    """Text wrapped to the terminal under a label, printed as data."""
    for line in wrapped_lines(text, first, rest, width):
        console.print(plain(line))


def _templates(settings: Settings) -> Templates:
    from alerts.core.composition import Templates

    configured = settings.templates
    return Templates({"fr": configured.fr, "en": configured.en}, configured.gsm_only)


def _service_names(settings: Settings) -> dict[str, str]:
    return {"fr": settings.service.name_fr, "en": settings.service.name_en}


def _sample_zone() -> str:
    from alerts.core.template_catalog import SAMPLE_VALUES

    return SAMPLE_VALUES["zone"]
