"""Reports of the flows: Markdown and plots written from a run's JSON summary."""

from rmlora.sw.report.face import format_face_table, write_face_report

__all__ = ["format_face_table", "write_face_report"]
