"""The dashboard's daily line as a server-rendered SVG (no chart library on slow phones)."""
import math
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass
class Series:
    key: str
    label: str
    points: str  # SVG polyline points
    total: int


@dataclass
class LineChart:
    width: int
    height: int
    series: list[Series]
    y_ticks: list[tuple[float, int]]
    x_ticks: list[tuple[float, str]]
    left: int = LEFT
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return value


def line_chart(labels: list[str], values: list[int], key: str, label: str) -> LineChart:
    """One series from zero; one label per day, about eight of them shown."""
    top = _nice_max(max(values, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h - plot_h * value / top, 1)

    series = [Series(key, label, " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)), sum(values))]
    every = max(1, math.ceil(len(labels) / 8))
    x_ticks = [(x(i), text) for i, text in enumerate(labels) if (len(labels) - 1 - i) % every == 0]
    return LineChart(WIDTH, HEIGHT, series, [(y(top * k // 4), top * k // 4) for k in range(5)], x_ticks)
