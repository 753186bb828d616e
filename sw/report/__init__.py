"""Reports of the flows: Markdown and plots written from a run's JSON summary.

A task names the kind of report that reads its summary (``Task.report``): every
classification task has the classifier's (flow.py), the image-generation task the
sampler's (diffusion.py). ``REPORTS`` maps the kind to its console table and writer.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rmlora.sw.report.diffusion import format_diffusion_table, write_diffusion_report
from rmlora.sw.report.flow import format_flow_console, format_flow_table, write_flow_report

__all__ = ["REPORTS", "Report", "format_flow_table", "write_flow_report"]


@dataclass(frozen=True)
class Report:
    """console(summary) -> text printed after a run; write(summary, dir) -> report.md."""

    console: Callable[[dict], str]
    write: Callable[[dict, str | Path], Path]


REPORTS = {"classifier": Report(format_flow_console, write_flow_report),
           "sampler": Report(format_diffusion_table, write_diffusion_report)}
