"""A small grouped bar chart drawn on the server as SVG (no library, nothing fetched).

Only the geometry is computed here; ``templates/_chart.html`` writes the SVG, so every text
is escaped by the templates. Colours come from classes in ``static/app.css`` (the pages'
Content-Security-Policy allows no inline styles). One group per row (e.g. a department),
its label above its bars, so it reads on a phone as well as on a desk.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 420
PAD_LEFT = 4
PAD_RIGHT = 34  # room for the value after the longest bar
LABEL_HEIGHT = 16
BAR_HEIGHT = 8
BAR_GAP = 3
GROUP_GAP = 12
AXIS_HEIGHT = 18


@dataclass(frozen=True)
class Bar:
    series: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Group:
    label: str
    y: float
    flagged: bool
    bars: list[Bar]


@dataclass(frozen=True)
class Tick:
    value: int
    x: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: float
    top: float
    bottom: float
    series: list[str]
    groups: list[Group]
    ticks: list[Tick]


def nice_step(maximum: int, most: int = 5) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving at most ``most`` ticks."""
    if maximum <= most:
        return 1
    power = int(10 ** math.floor(math.log10(maximum / most)))
    for factor in (1, 2, 5, 10):
        if maximum / (factor * power) <= most:
            return factor * power
    return 10 * power


def grouped_bars(
    rows: Sequence[tuple[str, bool, Mapping[str, int]]], series: Sequence[str]
) -> BarChart:
    """``rows``: (label, flagged, {series: value}); one bar per series in each row."""
    plot = WIDTH - PAD_LEFT - PAD_RIGHT
    maximum = max((int(values.get(s, 0)) for _, _, values in rows for s in series), default=0)
    step = nice_step(max(maximum, 1))
    top_value = max(step * math.ceil(max(maximum, 1) / step), 1)
    groups: list[Group] = []
    y = 0.0
    for label, flagged, values in rows:
        bars = []
        bar_y = y + LABEL_HEIGHT
        for name in series:
            value = int(values.get(name, 0))
            bars.append(
                Bar(
                    series=name,
                    value=value,
                    x=PAD_LEFT,
                    y=bar_y,
                    width=round(plot * value / top_value, 1),
                    height=BAR_HEIGHT,
                )
            )
            bar_y += BAR_HEIGHT + BAR_GAP
        groups.append(Group(label=label, y=y, flagged=flagged, bars=bars))
        y = bar_y + GROUP_GAP
    bottom = y
    ticks = [
        Tick(value=v, x=round(PAD_LEFT + plot * v / top_value, 1))
        for v in range(0, top_value + 1, step)
    ]
    return BarChart(
        width=WIDTH,
        height=bottom + AXIS_HEIGHT,
        top=0,
        bottom=bottom,
        series=list(series),
        groups=groups,
        ticks=ticks,
    )
