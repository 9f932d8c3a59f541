"""The analytics tab (QtCharts): ratings, reply rate, response time, and how much drafts get edited.

QtCharts is imported only when this tab is first opened, so it costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import theme

if TYPE_CHECKING:
    from app.services.analytics import Summary
    from app.ui.context import AppContext


def _chart(title: str) -> tuple[QChart, QChartView]:
    chart = QChart()
    chart.setTitle(title)
    chart.legend().hide()
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setTheme(QChart.ChartTheme.ChartThemeDark if theme.is_dark()
                   else QChart.ChartTheme.ChartThemeLight)
    chart.setBackgroundBrush(QColor(theme.colors()["base"]))
    chart.setTitleBrush(QColor(theme.colors()["text"]))
    view = QChartView(chart)
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(220)
    view.setAccessibleName(title)
    return chart, view


def _axis_x(chart: QChart, series: Any, labels: list[str]) -> None:
    axis = QBarCategoryAxis()
    axis.append(labels)
    axis.setLabelsAngle(-60 if len(labels) > 8 else 0)
    chart.addAxis(axis, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(axis)


def _axis_y(chart: QChart, series: Any, top: float, fmt: str = "%d") -> None:
    axis = QValueAxis()
    axis.setRange(0, top)
    axis.setLabelFormat(fmt)
    chart.addAxis(axis, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis)


class _Card(QFrame):
    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("card")
        self.value = QLabel("–", objectName="heading")
        self.title = QLabel(title, objectName="muted")
        layout = QVBoxLayout(self)
        layout.addWidget(self.value)
        layout.addWidget(self.title)
        self.setAccessibleName(title)

    def set(self, text: str) -> None:
        self.value.setText(text)
        self.setAccessibleDescription(text)


class AnalyticsView(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setAccessibleName("Analytics")
        self.cards = {k: _Card(t) for k, t in (
            ("reviews", "reviews"), ("reply_rate", "answered"),
            ("response", "median response time"), ("edited", "drafts edited before approval"),
            ("pairs", "preference pairs collected"),
        )}
        cards = QHBoxLayout()
        for card in self.cards.values():
            cards.addWidget(card)
        self.refresh_button = QPushButton(theme.icon("regenerate"), "Refresh",
                                          accessibleName="Refresh analytics")
        self.refresh_button.clicked.connect(self.refresh)
        cards.addWidget(self.refresh_button)

        self.ratings_chart, v1 = _chart("Rating distribution")
        self.reply_chart, v2 = _chart("Reply rate per month (%)")
        self.response_chart, v3 = _chart("Median response time per month (hours)")
        self.edits_chart, v4 = _chart("Drafts edited per model / adapter (%)")
        grid = QGridLayout()
        grid.addWidget(v1, 0, 0)
        grid.addWidget(v2, 0, 1)
        grid.addWidget(v3, 1, 0)
        grid.addWidget(v4, 1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(cards)
        layout.addLayout(grid, 1)
        self.summary: Summary | None = None
        self.stats: Any = None
        self.refresh()

    def refresh(self) -> None:
        core = self.ctx.core
        if core is None:
            return
        from app.services import analytics, feedback

        self.refresh_button.setEnabled(False)
        self.ctx.db.submit(lambda _job: (analytics.summary(core), feedback.stats(core)),
                           name="analytics", on_done=self._show)

    def _show(self, result: tuple[Summary, Any]) -> None:
        self.refresh_button.setEnabled(True)
        summary, stats = result
        self.summary, self.stats = summary, stats
        months = summary.months
        replied = sum(m.replied for m in months)
        total = sum(m.reviews for m in months)
        delays = [m.median_response_hours for m in months if m.median_response_hours is not None]
        self.cards["reviews"].set(f"{summary.total:,}")
        self.cards["reply_rate"].set(f"{replied / total:.0%}" if total else "–")
        self.cards["response"].set(f"{sorted(delays)[len(delays) // 2]:.0f} h" if delays else "–")
        approved = sum(m.approved for m in stats.per_model)
        unchanged = sum((m.accepted_unchanged_rate or 0) * m.approved for m in stats.per_model)
        self.cards["edited"].set(f"{1 - unchanged / approved:.0%}" if approved else "–")
        self.cards["pairs"].set(f"{stats.pairs:,}")

        self._bars(self.ratings_chart, [f"{r}★" for r in range(1, 6)],
                   [summary.ratings.get(r, 0) for r in range(1, 6)], "Reviews")
        labels = [m.month for m in months]
        self._line(self.reply_chart, labels, [m.reply_rate * 100 for m in months], 100)
        hours = [m.median_response_hours or 0.0 for m in months]
        self._line(self.response_chart, labels, hours, max(hours, default=0) * 1.1 or 24)
        models = [f"{m.model_name}{' + ' + m.adapter if m.adapter else ''} "
                  f"(Ø {m.mean_edit_distance or 0:.0f} chars changed)" for m in stats.per_model
                  if m.approved]
        rates = [(1 - (m.accepted_unchanged_rate or 0)) * 100 for m in stats.per_model
                 if m.approved]
        self._bars(self.edits_chart, models or ["no decisions yet"], rates or [0], "Edited",
                   top=100)

    @staticmethod
    def _bars(chart: QChart, labels: list[str], values: Sequence[float], name: str,
              top: float | None = None) -> None:
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        bars = QBarSet(name)
        bars.append([float(v) for v in values])
        bars.setColor(QColor(theme.colors()["accent"]))
        series = QBarSeries()
        series.append(bars)
        series.setLabelsVisible(True)
        chart.addSeries(series)
        _axis_x(chart, series, labels)
        _axis_y(chart, series, top or max(1.0, max(values, default=0) * 1.15))

    @staticmethod
    def _line(chart: QChart, labels: list[str], values: list[float], top: float) -> None:
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        series = QLineSeries()
        for i, v in enumerate(values):
            series.append(float(i), float(v))
        series.setColor(QColor(theme.colors()["accent"]))
        series.setPointsVisible(True)
        chart.addSeries(series)
        _axis_x(chart, series, labels or ["no data"])
        _axis_y(chart, series, top)
