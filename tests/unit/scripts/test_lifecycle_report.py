"""The lifecycle report's headline figures, with and without the corpus adaptation cycle."""

from __future__ import annotations

from scripts.lifecycle.report import Report


def scores(test: float, seen: float) -> dict[str, dict[str, float]]:
    return {"test": {"ndcg10": test}, "seen": {"ndcg10": seen}}


def test_the_adaptation_gain_comes_first_when_the_cycle_ran() -> None:
    report = Report()
    report.measure("base", scores(0.40, 0.50))
    report.measure("adapted", scores(0.42, 0.51))
    report.measure("final", scores(0.44, 0.70))
    figures = report.headlines()
    assert list(figures)[:2] == ["lifecycle_adapt_ndcg10_gain_pct", "lifecycle_ndcg10_base"]
    assert figures["lifecycle_adapt_ndcg10_gain_pct"] == "5.00"
    assert figures["lifecycle_ndcg10_gain_pct"] == "10.00"
    assert figures["lifecycle_seen_ndcg10_gain_pct"] == "40.00"


def test_no_adaptation_line_without_the_cycle() -> None:
    report = Report()
    report.measure("base", scores(0.40, 0.50))
    assert "lifecycle_adapt_ndcg10_gain_pct" not in report.headlines()
