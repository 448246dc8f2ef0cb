"""The library side of the `headentropy` commands: run a model over texts, analyse the trace
into a report dict (report.json), render one self-contained HTML page, summarise and compare.

    from headentropy.report import run_texts, build_report, write_report, summary_text
"""

from .build import (FORMAT, REPORT_HTML, REPORT_JSON, SHAPE_NOTES, TRACE_FILE, build_report, is_report_dir,
                    load_report, stack_traces, write_report)
from .run import DEFAULT_PROMPT, InputError, context_limit, read_dataset, run_texts
from .summary import compare_reports, comparison_text, summary_text

__all__ = ["DEFAULT_PROMPT", "FORMAT", "REPORT_HTML", "REPORT_JSON", "SHAPE_NOTES", "TRACE_FILE", "InputError",
           "build_report", "compare_reports", "comparison_text", "context_limit", "is_report_dir", "load_report",
           "read_dataset", "run_texts", "stack_traces", "summary_text", "write_report"]
