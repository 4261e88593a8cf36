"""Trade-report charts drawn with the alert charts' Pillow renderer (the same look as the
charts sent with alerts): a :class:`~skimd.services.ports.reports.ChartRenderer`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skimd.services.ports.reports import ChartSpec


def report_chart_renderer(zone: tzinfo) -> Callable[[ChartSpec], bytes]:
    """Levels coloured by kind (range green/red, stop red dashed, entry amber), buys amber
    and exits green or red by the round trip's result; times in ``zone``."""
    from skimd.infrastructure.notifications import charts

    colours = {
        "orh": (charts.GREEN, False),
        "orl": (charts.RED, False),
        "stop": (charts.RED, True),
        "target": (charts.GREEN, True),
        "entry": (charts.AMBER, True),
        "avg_entry": (charts.AMBER, True),
    }

    def render(spec: ChartSpec) -> bytes:
        lines = [
            charts.ChartLine(lv.label, lv.price, *colours.get(lv.kind, (charts.GREY, True)))
            for lv in spec.levels
        ]
        exit_colour = charts.GREEN if spec.profitable else charts.RED
        markers = [
            charts.ChartMarker(
                m.label,
                m.at,
                m.price,
                charts.AMBER if m.side == "BUY" else exit_colour,
                up=m.side == "BUY",
            )
            for m in spec.marks
        ]
        return charts.render_chart(spec.title, spec.path, lines, markers, tz=zone)

    return render
