"""`alerts zones ...` and `alerts addresses ...`: the neighbourhood layer and the gazetteer."""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from alerts.commands.console_text import plain
from alerts.commands.context import JSON_OPTION, console, print_json, print_json_line, services
from alerts.errors import AlertsError, InvalidInput, UsageError
from zones.errors import ZoneError

if TYPE_CHECKING:
    from alerts.places import layers
    from alerts.wiring import Services

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
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what the import would change, and change nothing."
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Leave subscriptions without a zone if need be, without asking."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import the city's neighbourhood layer (GeoJSON polygons), in one transaction."""
    from alerts.commands.progress import step_progress
    from alerts.places import layers

    wired = services(ctx)
    unlinked: int | None = None  # how many the operator agreed to leave without a zone
    preview: layers.LayerImport | None = None
    with step_progress("zones", quiet=as_json) as progress:
        layer = layers.read_zone_layer(
            wired, source, name_field=name_field, crs=crs, progress=progress
        )
        if dry_run or (replace and not yes):
            # The preview is the import itself, rolled back: what it shows is what would happen.
            preview = layers.store_zone_layer(
                wired, layer, replace=replace, dry_run=True, progress=progress
            )
    if preview is not None:
        unlinked = preview.rematch.unlinked if preview.rematch is not None else 0
        if dry_run or unlinked:
            if as_json and dry_run:
                print_json(preview.as_dict())
            elif not as_json:
                _print_import(preview)
            if dry_run:
                return
            _agree_to_unlink(preview)
    with step_progress("zones", quiet=as_json) as progress:
        report = layers.store_zone_layer(
            wired, layer, replace=replace, max_unlinked=unlinked, progress=progress
        )
    if as_json:
        print_json(report.as_dict())
    else:
        _print_import(report)


def _agree_to_unlink(preview: layers.LayerImport) -> None:
    """Ask before a replace leaves subscriptions without a zone; without a terminal, refuse."""
    assert preview.rematch is not None
    count, people = preview.rematch.unlinked, preview.rematch.subscribers_unlinked
    what = f"{count} subscription(s) of {people} subscriber(s) without a zone"
    if not _interactive():
        raise UsageError(
            f"this layer would leave {what}; check with --dry-run, then confirm with --yes"
        )
    typer.confirm(f"Replace the layer, leaving {what}?", abort=True, err=True)


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # stdin closed
        return False


def _print_import(report: layers.LayerImport) -> None:
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {plain(warning)}", emoji=False)
    would = "would be " if report.dry_run else ""
    console.print(
        f"{report.imported} zone(s) {would}imported ({report.repaired} repaired, "
        f"{report.skipped} skipped; coordinates {plain(report.crs)}).",
        emoji=False,
    )
    if report.zones is not None:
        _print_zone_changes(report.zones)
    if report.rematch is not None:
        moved = report.rematch
        console.print(
            f"Subscriptions {'would be ' if report.dry_run else ''}re-matched: "
            f"{moved.unchanged} unchanged, {moved.moved} moved "
            f"({moved.subscribers_moved} subscriber(s)), {moved.relinked} linked again by "
            f"zone name, {moved.merged} merged, {moved.outside} outside every zone "
            f"({moved.subscribers_outside} subscriber(s)), {moved.orphaned} without a point "
            f"on a zone that is gone; {moved.unlinked} newly without a zone."
        )
        if moved.without_zone:
            console.print(
                "[yellow]Subscriptions left without a zone are kept, with their zone name "
                "and point: a later layer holding them links them again; review them with "
                "`alerts subscribers list --without-zone`.[/yellow]"
            )
    if report.dry_run:
        console.print("Dry run: nothing changed.")


_SHOWN = 5  # names listed per kind of change; the counts say the rest


def _print_zone_changes(changes: layers.ZoneChanges) -> None:
    console.print(
        f"Zones: {len(changes.added)} added, {len(changes.removed)} removed, "
        f"{len(changes.renamed)} renamed, {changes.reshaped} reshaped, "
        f"{changes.unchanged} unchanged."
    )
    listed = (
        ("added", list(changes.added)),
        ("removed", list(changes.removed)),
        ("renamed", [f"{old} -> {new}" for old, new in changes.renamed]),
    )
    for kind, names in listed:
        if names:
            more = f" (and {len(names) - _SHOWN} more)" if len(names) > _SHOWN else ""
            console.print(f"  {kind}: {plain('; '.join(names[:_SHOWN]))}{more}", emoji=False)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Zones with their area and subscriber count."""
    from alerts.commands.tables import Column, print_table
    from alerts.places.zone_list import list_zones

    zones = list_zones(services(ctx))
    if as_json:
        print_json([zone.as_dict() for zone in zones])
        return
    columns = (
        Column("zone", wrap=True),
        Column("km²", justify="right"),
        Column("subscribers", short="subs.", justify="right"),
    )
    rows = [(zone.name, f"{zone.area_km2:.2f}", zone.subscribers) for zone in zones]
    print_table(columns, rows)


# Negative longitudes (-71.21) are values, not options: unknown options pass as arguments.
@app.command("locate", context_settings={"ignore_unknown_options": True})
def locate(
    ctx: typer.Context,
    point: list[str] = typer.Argument(
        None, metavar="LAT LON", help="Latitude and longitude: 46.81 -71.21 (or 46.81,-71.21)."
    ),
    address: str = typer.Option(None, "--address", help="An address, map link or zone name."),
    batch: Path = typer.Option(None, "--batch", help="A file of queries, one per line."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The zone of a point, an address or a map link (or of each line of a file)."""
    from alerts.places import places

    if sum(bool(x) for x in (point, address, batch)) != 1:
        raise UsageError("give LAT LON, or --address TEXT, or --batch FILE")
    wired = services(ctx)
    if batch is not None:
        for query in _lines(batch):
            print_json_line({"query": query, **_locate_or_error(wired, query)})
        return
    if address:
        found = places.locate_text(wired, address)
    else:
        found = places.locate_point(wired, *_coordinates(point))
    if as_json:
        print_json(found)
    elif found["zone"] is None and "candidates" in found:
        candidates = found["candidates"]
        assert isinstance(candidates, list)
        console.print(f"Ambiguous: {plain('; '.join(map(str, candidates)))}", emoji=False)
    elif found["zone"] is None:
        console.print("Outside every zone.")
    else:
        where = f" ({found['matched']})" if found.get("matched") else ""
        console.print(f"{plain(found['zone'])}{plain(where)}, {found['distance_m']} m", emoji=False)


def _coordinates(words: list[str]) -> tuple[float, float]:
    """LAT LON from the command line; text that is no pair of numbers (an address typed
    without --address) is a usage error that says how to ask for it."""
    parts = [part for word in words for part in word.replace(",", " ").split()]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != len(parts) or not parts:
        text = " ".join(words)
        quoted = shlex.quote(text) if any(ch in text for ch in '"$`\\') else f'"{text}"'
        raise UsageError(f"{text!r} is not LAT LON; to locate an address, use --address {quoted}")
    if len(numbers) != 2:
        raise UsageError("give LAT LON (both numbers), e.g. 46.81 -71.21")
    lat, lon = numbers
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise UsageError("LAT and LON must be numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise UsageError(
            f"{lat:g} {lon:g} is not LAT LON: latitude is within ±90 (first), longitude within ±180"
        )
    return lat, lon


def _locate_or_error(wired: Services, query: str) -> dict[str, object]:
    from alerts.places import places

    try:
        return places.locate_text(wired, query)
    except (AlertsError, ZoneError) as exc:
        return {"zone": None, "error": str(exc)}


# A query is an address, a map link or a name: a line longer than this is no query (and a
# file without line breaks, /dev/zero, would otherwise be read whole as one line).
MAX_QUERY_CHARS = 2000


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            number = 0
            while line := handle.readline(MAX_QUERY_CHARS + 1):
                number += 1
                if len(line.rstrip("\r\n")) > MAX_QUERY_CHARS:
                    raise InvalidInput(
                        f"{path}, line {number}: longer than {MAX_QUERY_CHARS} characters"
                    )
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
    from alerts.commands.progress import step_progress
    from alerts.places import layers

    wired = services(ctx)
    with step_progress("addresses", quiet=as_json) as progress:
        count = layers.import_addresses(
            wired,
            file,
            number_field=number_field,
            street_field=street_field,
            lon_field=lon_field,
            lat_field=lat_field,
            progress=progress,
        )
    if as_json:
        print_json({"imported": count})
    else:
        console.print(f"{count} address point(s) imported.")
