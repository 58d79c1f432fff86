"""Regenerate the fictional town of Val-Givré shipped as the demo layer and gazetteer.

Run from the repository root: `python tools/make_demo_data.py`. The output is deterministic.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Polygon, mapping

OUT = Path(__file__).resolve().parents[1] / "alerts" / "demo"
CENTRE = (-71.352, 47.046)  # a wooded valley north of Québec City; the town is made up
KM_LON = 1 / (111.32 * np.cos(np.radians(CENTRE[1])))
KM_LAT = 1 / 111.13

# (name, seed x km, seed y km); names are Québec-style, with letters outside GSM-7.
ZONES = [
    ("Haute-Ville—Colline-du-Fort", 0.0, 0.4),
    ("Saint-Éloi", 1.6, 0.9),
    ("Les Érables", -1.5, 1.2),
    ("Bas-de-la-Falaise", 0.3, -1.2),
    ("Plateau-des-Pins", -2.4, -0.6),
    ("Côte-Blanche", 2.3, -0.9),
    ("Lac-Doré", -0.8, 2.8),
    ("Faubourg-des-Forges", 1.2, 2.6),
    ("Châtelet-Nord", 3.4, 1.8),
    ("Sainte-Geneviève", -3.4, 1.7),
]

# Streets as polylines in km, with their first civic number.
STREETS = [
    ("Rue Saint-Jean-des-Neiges", [(-3.8, 0.3), (-1.0, 0.5), (1.5, 0.3), (3.9, 0.6)], 100),
    ("Boulevard du Fort", [(0.1, -2.4), (0.0, 0.0), (-0.2, 3.3)], 10),
    ("Avenue des Érables", [(-3.6, 2.2), (-1.4, 1.6), (0.4, 1.4)], 200),
    ("Chemin du Lac-Doré", [(-0.4, 1.2), (-1.0, 2.6), (-0.6, 3.6)], 1000),
    ("Rue de la Falaise", [(-1.8, -1.6), (0.6, -1.4), (2.8, -1.6)], 50),
    ("Côte de l'Église", [(1.0, -0.4), (2.0, 0.9), (3.6, 2.0)], 300),
    ("Rue des Forges", [(0.6, 2.0), (1.4, 2.5), (2.2, 3.1)], 2),
    ("Montée du Plateau", [(-3.2, -1.4), (-2.3, -0.4), (-1.6, 0.2)], 1500),
]


def to_lonlat(x_km: float, y_km: float) -> tuple[float, float]:
    return (CENTRE[0] + x_km * KM_LON, CENTRE[1] + y_km * KM_LAT)


def main() -> None:
    outline = Polygon(
        [
            (-4.2, -2.0),
            (-2.0, -2.6),
            (1.5, -2.4),
            (4.0, -1.6),
            (4.4, 1.5),
            (3.0, 3.4),
            (0.5, 3.9),
            (-2.2, 3.4),
            (-4.3, 2.2),
        ]
    )
    seeds = MultiPoint([(x, y) for _, x, y in ZONES])
    cells = shapely.voronoi_polygons(seeds, extend_to=outline.buffer(2))
    features = []
    for name, x, y in ZONES:
        cell = next(c for c in cells.geoms if c.contains(shapely.Point(x, y)))
        shape = cell.intersection(outline)
        ring = [to_lonlat(px, py) for px, py in shape.exterior.coords]
        geometry = shapely.set_precision(Polygon(ring), 1e-6)
        features.append(
            {"type": "Feature", "properties": {"NOM": name}, "geometry": mapping(geometry)}
        )
    layer = {"type": "FeatureCollection", "name": "val-givre-quartiers", "features": features}
    (OUT / "val-givre-quartiers.geojson").write_text(
        json.dumps(layer, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )

    with (OUT / "val-givre-adresses.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["NO_CIVIQUE", "RUE", "lon", "lat"])
        for street, points, first in STREETS:
            line = LineString(points)
            steps = int(line.length / 0.05)  # a civic pair every 50 m
            for i in range(steps + 1):
                p = line.interpolate(i * 0.05)
                for side, offset in ((0, 0.012), (1, -0.012)):
                    lon, lat = to_lonlat(p.x, p.y + offset)
                    number = first - first % 2 + 2 * i + side
                    writer.writerow([number, street, f"{lon:.6f}", f"{lat:.6f}"])


if __name__ == "__main__":
    main()
