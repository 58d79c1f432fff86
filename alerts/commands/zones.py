"""`alerts zones ...` and `alerts addresses ...`: the neighbourhood layer and the gazetteer."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from alerts import layers
from alerts.commands.common import JSON_OPTION, console, print_json, services

app = typer.Typer(help="The neighbourhood layer: import, list, locate.", no_args_is_help=True)
addresses_app = typer.Typer(
    help="The address gazetteer: import civic address points.", no_args_is_help=True
)


@app.command("import")
def import_(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="GeoJSON file or http(s) URL."),
    name_field: str = typer.Option(None, "--name-field", help="Property holding the zone name."),
    crs: str = typer.Option(None, "--crs", help="Coordinate system of the file, e.g. EPSG:32187."),
    replace: bool = typer.Option(False, "--replace", help="Swap the layer already imported."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import the city's neighbourhood layer (GeoJSON polygons), in one transaction."""
    report = layers.import_zones(
        services(ctx), source, name_field=name_field, crs=crs, replace=replace
    )
    if as_json:
        print_json(report.as_dict())
        return
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(
        f"{report.imported} zone(s) imported ({report.repaired} repaired, "
        f"{report.skipped} skipped; coordinates {report.crs})."
    )


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Zones with their area and subscriber count."""
    zones = layers.list_zones(services(ctx))
    if as_json:
        print_json([zone.as_dict() for zone in zones])
        return
    table = Table("zone", "km²", "subscribers")
    for zone in zones:
        table.add_row(zone.name, f"{zone.area_km2:.2f}", str(zone.subscribers))
    console.print(table)


@addresses_app.command("import")
def import_addresses(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV or GeoJSON of address points."),
    number_field: str = typer.Option(None, "--number-field", help="Civic number column."),
    street_field: str = typer.Option(None, "--street-field", help="Street name column."),
    lon_field: str = typer.Option(None, "--lon-field", help="Longitude column."),
    lat_field: str = typer.Option(None, "--lat-field", help="Latitude column."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Load civic address points into the gazetteer (replacing the previous ones)."""
    count = layers.import_addresses(
        services(ctx),
        file,
        number_field=number_field,
        street_field=street_field,
        lon_field=lon_field,
        lat_field=lat_field,
    )
    if as_json:
        print_json({"imported": count})
    else:
        console.print(f"{count} address point(s) imported.")
