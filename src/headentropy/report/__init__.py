"""The report: analyses of a trace as a dict (report.json) and one self-contained HTML page."""

from .build import (FORMAT, REPORT_HTML, REPORT_JSON, TRACE_FILE, build_report, is_report_dir,
                    load_report, stack_traces, write_report)

__all__ = ["FORMAT", "REPORT_HTML", "REPORT_JSON", "TRACE_FILE", "build_report", "is_report_dir",
           "load_report", "stack_traces", "write_report"]
