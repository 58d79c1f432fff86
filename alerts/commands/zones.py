"""`alerts zones ...` and `alerts addresses ...`: the neighbourhood layer and the gazetteer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table

from alerts.commands.context import JSON_OPTION, console, print_json, print_json_line, services
from alerts.errors import AlertsError, InvalidInput, UsageError
from alerts.places import layers, places
from alerts.wiring import Services
from zones.errors import ZoneError

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
    if report.rematch is not None:
        moved = report.rematch
        console.print(
            f"Subscriptions re-matched: {moved.unchanged} unchanged, {moved.moved} moved "
            f"({moved.subscribers_moved} subscriber(s)), {moved.merged} merged, "
            f"{moved.outside} now outside every zone ({moved.subscribers_outside} subscriber(s)), "
            f"{moved.orphaned} without a point on a zone that is gone."
        )
        if moved.outside or moved.orphaned:
            console.print(
                "[yellow]Subscriptions left without a zone are kept; review them with "
                "`alerts subscribers list --without-zone`.[/yellow]"
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


@app.command("locate", context_settings={"ignore_unknown_options": True})
def locate(
    ctx: typer.Context,
    lat: float = typer.Argument(None, help="Latitude (46.81...)."),
    lon: float = typer.Argument(None, help="Longitude (-71.21...)."),
    address: str = typer.Option(None, "--address", help="An address, map link or zone name."),
    batch: Path = typer.Option(None, "--batch", help="A file of queries, one per line."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The zone of a point, an address or a map link (or of each line of a file)."""
    given = sum(x is not None for x in (address, batch)) + (lat is not None or lon is not None)
    if given != 1 or (lat is None) != (lon is None):
        raise UsageError("give LAT LON, or --address TEXT, or --batch FILE")
    wired = services(ctx)
    if batch is not None:
        for query in _lines(batch):
            print_json_line({"query": query, **_locate_or_error(wired, query)})
        return
    found = places.locate_text(wired, address) if address else places.locate_point(wired, lat, lon)
    if as_json:
        print_json(found)
    elif found["zone"] is None and "candidates" in found:
        console.print(f"Ambiguous: {'; '.join(found['candidates'])}")
    elif found["zone"] is None:
        console.print("Outside every zone.")
    else:
        where = f" ({found['matched']})" if found.get("matched") else ""
        console.print(f"{found['zone']}{where}, {found['distance_m']} m")


def _locate_or_error(wired: Services, query: str) -> dict[str, object]:
    try:
        return places.locate_text(wired, query)
    except (AlertsError, ZoneError) as exc:
        return {"zone": None, "error": str(exc)}


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for line in handle:
                if line.strip():
                    yield line.strip()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text") from None


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
