"""Server-side charts (matplotlib's object API, no pyplot state), as SVG data URIs.

Each chart is an <img> source: an image cannot run script, so a label that
came from a CRM is drawn, never interpreted as markup. Used by the marketing
dashboard (reports) and the supervisor view (dialer).
"""

from __future__ import annotations

import base64
import io
from typing import Any

BLUE, GREEN, ORANGE, RED, GREY = "#2f6f9f", "#3a9a5b", "#d9822b", "#c0392b", "#7f8c8d"


def figure(width: float = 7.0, height: float = 3.2) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; harmless when already set
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure


def svg(figure: Any) -> str:
    import matplotlib

    buffer = io.BytesIO()
    # Text as paths: the picture carries no text node at all.
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def whole(axis: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def percent(ax: Any) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))


def no_data(ax: Any) -> None:
    ax.text(
        0.5,
        0.5,
        "No calls in this period",
        ha="center",
        va="center",
        transform=ax.transAxes,
        color=GREY,
    )
