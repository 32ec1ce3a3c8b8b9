"""Weather from Open-Meteo (no key): today's range, conditions and rain for a place.

Place names are resolved once with Open-Meteo's geocoding API and remembered in the cursor
(`geo`), so later digests make one request. Units come from the subscription's `units` setting
or WEATHER_UNITS (metric | imperial).
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared import settings
from shared.digest.feeds.base import Feed, FeedContext, FeedError, Gathered, SubscriptionLike
from shared.digest.fetch import FetchError, fetch

DAILY = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_sum,precipitation_probability_max"
_COORDS = re.compile(r"^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")

# WMO weather interpretation codes, as documented by Open-Meteo.
WMO = {
    0: "Clear sky",
    1: "Mainly clear",
    2: "Partly cloudy",
    3: "Overcast",
    45: "Fog",
    48: "Depositing rime fog",
    51: "Light drizzle",
    53: "Drizzle",
    55: "Dense drizzle",
    56: "Light freezing drizzle",
    57: "Freezing drizzle",
    61: "Slight rain",
    63: "Rain",
    65: "Heavy rain",
    66: "Light freezing rain",
    67: "Freezing rain",
    71: "Slight snow",
    73: "Snow",
    75: "Heavy snow",
    77: "Snow grains",
    80: "Slight rain showers",
    81: "Rain showers",
    82: "Violent rain showers",
    85: "Slight snow showers",
    86: "Heavy snow showers",
    95: "Thunderstorm",
    96: "Thunderstorm with slight hail",
    99: "Thunderstorm with heavy hail",
}


def _get_json(url: str, params: dict[str, str]) -> Any:
    try:
        got = fetch(url, params=params, accept="application/json")
        return json.loads(got.body)
    except FetchError as exc:
        raise FeedError(f"weather service: {exc}") from None
    except ValueError:
        raise FeedError("weather service answered something that is not JSON") from None


def units_of(sub: SubscriptionLike) -> str:
    units = str((sub.settings or {}).get("units") or settings.weather().units).lower()
    if units not in ("metric", "imperial"):
        raise FeedError(f"units must be metric or imperial, got {units!r}")
    return units


def resolve(place: str) -> dict[str, Any]:
    """Coordinates of a place ("Berlin" or "52.52,13.41"); FeedError when unknown."""
    match = _COORDS.match(place or "")
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise FeedError("coordinates out of range")
        return {"name": place.strip(), "latitude": lat, "longitude": lon}
    if not place or not place.strip():
        raise FeedError("no place given for the weather digest")
    base = settings.weather().geocoding_url
    data = _get_json(base, {"name": place.strip(), "count": "1", "language": "en", "format": "json"})
    results = data.get("results") if isinstance(data, dict) else None
    if not results:
        raise FeedError(f"place {place.strip()!r} not found")
    top = results[0]
    try:
        label = ", ".join(str(p) for p in (top.get("name"), top.get("admin1"), top.get("country")) if p)
        return {
            "name": label or place.strip(),
            "latitude": float(top["latitude"]),
            "longitude": float(top["longitude"]),
            "timezone": top.get("timezone"),
        }
    except (KeyError, TypeError, ValueError):
        raise FeedError("geocoding answer has no coordinates") from None


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _num(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
    return "?"


class WeatherFeed(Feed):
    source = "weather"

    def gather(self, sub: SubscriptionLike, ctx: FeedContext) -> Gathered:
        cursor = dict(sub.cursor or {})
        units = units_of(sub)
        geo = cursor.get("geo")
        if not isinstance(geo, dict) or geo.get("query") != sub.target:
            geo = {**resolve(sub.target), "query": sub.target}
        params = {
            "latitude": str(geo["latitude"]),
            "longitude": str(geo["longitude"]),
            "daily": DAILY,
            "timezone": sub.schedule.tz or "auto",
            "forecast_days": "1",
        }
        if units == "imperial":
            params.update(temperature_unit="fahrenheit", precipitation_unit="inch", wind_speed_unit="mph")
        base = settings.weather().forecast_url
        data = _get_json(base, params)
        daily = data.get("daily") if isinstance(data, dict) else None
        if not isinstance(daily, dict):
            reason = data.get("reason") if isinstance(data, dict) else None
            raise FeedError(f"weather service gave no daily forecast{': ' + str(reason) if reason else ''}")
        daily_units = data.get("daily_units")
        if not isinstance(daily_units, dict):
            daily_units = {}
        t_unit = daily_units.get("temperature_2m_max") or ("°F" if units == "imperial" else "°C")
        p_unit = daily_units.get("precipitation_sum") or ("inch" if units == "imperial" else "mm")
        code = _first(daily.get("weather_code"))
        t_min, t_max = _first(daily.get("temperature_2m_min")), _first(daily.get("temperature_2m_max"))
        rain, chance = (
            _first(daily.get("precipitation_sum")),
            _first(daily.get("precipitation_probability_max")),
        )
        known = isinstance(code, int | float) and code == code and abs(code) < 1000  # not NaN or huge
        conditions = WMO.get(int(code), f"Code {code}") if known else "Unknown"
        facts = [
            ("Today", f"{_num(t_min)} to {_num(t_max)} {t_unit}"),
            ("Conditions", conditions),
            ("Rain", f"{_num(rain)} {p_unit}" + (f" ({_num(chance)}% chance)" if chance is not None else "")),
        ]
        day = _first(daily.get("time"))
        return Gathered(
            source=self.source,
            title=str((sub.settings or {}).get("title") or f"Weather: {geo.get('name', sub.target)}"),
            facts=facts,
            headline=f"Forecast for {day}" if day else None,
            cursor={**cursor, "geo": geo},
            always_post=True,
        )


FEEDS = {"weather": WeatherFeed()}
