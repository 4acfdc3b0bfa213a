"""Dashboard charts drawn by matplotlib (object API, no pyplot state), as SVG data URIs.

Each chart is an <img> source: an image cannot run script, so a label that
came from a CRM (a lead source) is drawn, never interpreted as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.charts import BLUE, GREEN, GREY, ORANGE, RED
from common.charts import figure as _figure
from common.charts import no_data as _no_data
from common.charts import percent as _percent
from common.charts import style as _style
from common.charts import svg as _svg
from common.charts import whole as _whole
from reports.selectors import Dashboard, Row

ABANDONMENT_LIMIT = 0.03
MAX_BARS = 15


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    data_uri: str


def dashboard_charts(dashboard: Dashboard) -> list[Chart]:
    by = dashboard.by
    return [
        Chart("week", "Attempts and connects by week", _week_chart(by["week"])),
        Chart(
            "hour", "Connect rate by hour of day (program's local time)", _hour_chart(by["hour"])
        ),
        Chart(
            "speed", "Speed to first attempt by week (callbacks, median)", _speed_chart(by["week"])
        ),
        Chart("queue", "Abandonment rate by queue (limit 3%)", _abandonment_chart(by["queue"])),
        Chart("source", "Attempts and connects by lead source", _source_chart(by["source"])),
        Chart("program", "Connect rate by program", _program_chart(by["program"])),
    ]


def _week_chart(rows: list[Row]) -> str:
    figure = _figure()
    ax = figure.subplots()
    labels = [row.key[5:] for row in rows]  # MM-DD of the Monday
    positions = range(len(rows))
    ax.bar(
        [p - 0.2 for p in positions],
        [r.metrics.attempts for r in rows],
        0.4,
        label="attempts",
        color=BLUE,
    )
    ax.bar(
        [p + 0.2 for p in positions],
        [r.metrics.connects for r in rows],
        0.4,
        label="connects",
        color=GREEN,
    )
    ax.set_xticks(list(positions), labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("week starting")
    ax.set_ylabel("calls")
    _whole(ax.yaxis)
    ax.legend(loc="upper left", frameon=False)
    _style(ax)
    rate_ax = ax.twinx()
    rate_ax.plot(
        list(positions),
        [r.metrics.connect_rate or 0 for r in rows],
        color=ORANGE,
        marker="o",
        label="connect rate",
    )
    rate_ax.set_ylim(0, 1)
    _percent(rate_ax)
    rate_ax.set_ylabel("connect rate")
    rate_ax.spines[["top"]].set_visible(False)
    if not any(r.metrics.attempts for r in rows):
        _no_data(ax)
    return _svg(figure)


def _hour_chart(rows: list[Row]) -> str:
    figure = _figure()
    ax = figure.subplots()
    hours = [int(row.key) for row in rows]
    ax.bar(hours, [r.metrics.connect_rate or 0 for r in rows], color=BLUE)
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(-0.6, 23.6)
    ax.set_ylim(0, 1)
    _percent(ax)
    ax.set_xlabel("hour")
    ax.set_ylabel("connect rate")
    _style(ax)
    counts = ax.twinx()
    counts.plot(
        hours, [r.metrics.attempts for r in rows], color=GREY, linestyle="--", label="attempts"
    )
    counts.set_ylabel("attempts")
    counts.set_ylim(bottom=0)
    _whole(counts.yaxis)
    counts.spines[["top"]].set_visible(False)
    if not any(r.metrics.attempts for r in rows):
        _no_data(ax)
    return _svg(figure)


def _speed_chart(rows: list[Row]) -> str:
    figure = _figure()
    ax = figure.subplots()
    points = [
        (i, row.metrics.median_seconds_to_first_attempt / 60)
        for i, row in enumerate(rows)
        if row.metrics.median_seconds_to_first_attempt is not None
    ]
    if points:
        ax.plot([p[0] for p in points], [p[1] for p in points], color=BLUE, marker="o")
    else:
        _no_data(ax)
    ax.set_xticks(
        range(len(rows)), [row.key[5:] for row in rows], rotation=45, ha="right", fontsize=8
    )
    ax.set_xlim(-0.5, max(len(rows) - 0.5, 0.5))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("week starting")
    ax.set_ylabel("minutes")
    _style(ax)
    return _svg(figure)


def _horizontal(rows: list[Row], values: list[float], color: str, ax: Any) -> None:
    labels = [row.key for row in rows]
    ax.barh(range(len(rows)), values, color=color)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def _abandonment_chart(rows: list[Row]) -> str:
    rows = [r for r in rows if r.metrics.answered][:MAX_BARS]
    figure = _figure(height=max(2.4, 0.35 * len(rows) + 1.2))
    ax = figure.subplots()
    if not rows:
        _no_data(ax)
        return _svg(figure)
    rates = [r.metrics.abandonment_rate or 0 for r in rows]
    colors = [RED if rate > ABANDONMENT_LIMIT else GREEN for rate in rates]
    _horizontal(rows, rates, GREEN, ax)
    for patch, color in zip(ax.patches, colors, strict=True):
        patch.set_color(color)
    ax.axvline(ABANDONMENT_LIMIT, color=RED, linestyle="--", linewidth=1)
    ax.set_xlim(0, max(0.06, max(rates) * 1.2))
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_xlabel("abandoned / answered")
    return _svg(figure)


def _source_chart(rows: list[Row]) -> str:
    rows = rows[:MAX_BARS]
    figure = _figure(height=max(2.4, 0.35 * len(rows) + 1.2))
    ax = figure.subplots()
    if not rows:
        _no_data(ax)
        return _svg(figure)
    positions = list(range(len(rows)))
    ax.barh(
        [p - 0.2 for p in positions],
        [r.metrics.attempts for r in rows],
        0.4,
        color=BLUE,
        label="attempts",
    )
    ax.barh(
        [p + 0.2 for p in positions],
        [r.metrics.connects for r in rows],
        0.4,
        color=GREEN,
        label="connects",
    )
    ax.set_yticks(positions, [r.key for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.legend(loc="lower right", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel("calls")
    _whole(ax.xaxis)
    return _svg(figure)


def _program_chart(rows: list[Row]) -> str:
    rows = rows[:MAX_BARS]
    figure = _figure(height=max(2.4, 0.35 * len(rows) + 1.2))
    ax = figure.subplots()
    if not rows:
        _no_data(ax)
        return _svg(figure)
    _horizontal(rows, [r.metrics.connect_rate or 0 for r in rows], BLUE, ax)
    ax.set_xlim(0, 1)
    from matplotlib.ticker import PercentFormatter

    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("connect rate")
    return _svg(figure)
