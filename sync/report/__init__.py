"""The routing report: `leadrouter report`, `GET /api/report` and the dashboard's data."""

from sync.report.figures import build_report, parse_when, percentile

__all__ = ["build_report", "parse_when", "percentile"]
