"""Reports of the flows: Markdown and plots written from a run's JSON summary."""

from rmlora.sw.report.flow import format_flow_table, write_flow_report

__all__ = ["format_flow_table", "write_flow_report"]
