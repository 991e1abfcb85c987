"""A small server-rendered SVG line chart: no chart library to ship to slow phones (coverage's
monthly lines, a campaign's daily line)."""
import math
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass
class Series:
    key: str
    label: str
    points: str  # SVG polyline points
    last: int


@dataclass
class LineChart:
    width: int
    height: int
    series: list[Series]
    y_ticks: list[tuple[float, int]]   # (y position, value)
    x_ticks: list[tuple[float, str]]   # (x position, label)
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


def line_chart(labels: list[str], series: list[tuple[str, str, list[int]]]) -> LineChart:
    """`series`: (key, label, values) sharing one y axis from zero; labels one per x position."""
    top = _nice_max(max((max(values, default=0) for _, _, values in series), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: int) -> float:
        return round(TOP + plot_h - plot_h * value / top, 1)

    drawn = [Series(key, label, " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values)), values[-1] if values else 0)
             for key, label, values in series]
    y_ticks = [(y(top * k // 4), top * k // 4) for k in range(5)]
    every = max(1, len(labels) // 8)
    x_ticks = [(x(i), label) for i, label in enumerate(labels) if (len(labels) - 1 - i) % every == 0]
    return LineChart(WIDTH, HEIGHT, drawn, y_ticks, x_ticks)
