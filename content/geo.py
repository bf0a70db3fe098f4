"""Distances on the Earth's surface, and the bounding box used to pre-filter in SQL."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float


def parse_point(value: str) -> Point:
    """Parse "lat,lon" in decimal degrees; ValueError with a reason otherwise."""
    parts = value.split(",")
    if len(parts) != 2:
        raise ValueError("expected 'lat,lon', e.g. 15.8771,108.3260")
    lat, lon = (float(part) for part in parts)
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError("coordinates must be finite numbers")
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise ValueError("latitude must be within ±90 and longitude within ±180")
    return Point(lat, lon)


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi = phi2 - phi1
    dlmb = math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(center: Point, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) enclosing a circle, for an index-friendly filter."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    cos_lat = max(math.cos(math.radians(center.lat)), 1e-6)
    dlon = min(180.0, math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat)))
    return center.lat - dlat, center.lat + dlat, center.lon - dlon, center.lon + dlon
