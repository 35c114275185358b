"""Executing a run's notebooks with papermill into its folder, in order: each notebook's status and
time, a failure named with its cell (the notebooks after it are not run unless ``keep_going``),
Ctrl-C recorded with the command that resumes the run, and the run's report.html written at the end.
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from nbutils.runs.parameters import NotebookJob, read_cells


def failing_cell(error: Exception, source: Path) -> str:
    """'cell 7 (`first line`): ValueError: ...', numbered as the source notebook shows it (from 1)."""
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    code = getattr(error, "source", None)
    sources = [cell["source"] for cell in read_cells(source)]
    if code not in sources:
        return f"a cell: {ename}: {evalue}"
    first_line = next((line for line in code.splitlines() if line.strip()), "")
    return f"cell {sources.index(code) + 1} (`{first_line[:80]}`): {ename}: {evalue}"


# The kernel's own log (not the cells' warnings, which stay in the outputs) at ERROR: ipykernel
# warns at every start that a local kernel talks over TCP without encryption.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class CheckedParameters(logging.Filter):
    """Drops papermill's "Passed unknown parameter" warning for parameters the runner has already
    checked against the notebook's parameters cell: papermill's own reading of that cell skips
    annotations such as ``str | None`` and calls those parameters unknown."""

    def __init__(self, names: set[str]):
        super().__init__()
        self.messages = {f"Passed unknown parameter: {name}" for name in names}

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages


def execute(job: NotebookJob, run_dir: Path) -> dict[str, Any]:
    """Run one notebook into ``run_dir``; return its status record."""
    import papermill
    output = run_dir / job.path.name
    start = time.perf_counter()
    record = {"notebook": job.path.name, "output": str(output)}
    checked = CheckedParameters({*job.parameters, "run_dir"})
    logging.getLogger("papermill").addFilter(checked)
    try:
        papermill.execute_notebook(str(job.path), str(output), parameters={**job.parameters, "run_dir": str(run_dir)},
                                   cwd=str(job.path.parent), kernel_name="python3",
                                   progress_bar=not os.environ.get("CI"), log_output=False,
                                   extra_arguments=KERNEL_ARGUMENTS)
        record["status"] = "ok"
    except Exception as error:  # papermill's PapermillExecutionError and kernel failures
        record.update(status="failed", error=f"{job.path.name} failed at {failing_cell(error, job.path)}")
    finally:
        logging.getLogger("papermill").removeFilter(checked)
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def write_report(run_dir: Path) -> None:
    """Write the run's report.html and print its path; a failure is reported, not raised, since
    the run's results stand without the page (``python -m nbutils.report RUN_FOLDER`` retries)."""
    from nbutils.runs.html_report import write_html_report
    try:
        print(f"report: {write_html_report(run_dir)}", flush=True)
    except Exception as error:  # nbconvert or a table the page cannot read
        print(f"warning: report.html not written ({type(error).__name__}: {error}); "
              f"retry with: python -m nbutils.report {run_dir}", file=sys.stderr)


def run_notebooks(jobs: list[NotebookJob], run_dir: Path, keep_going: bool,
                  resume: str) -> tuple[list[dict[str, Any]], bool]:
    """Execute the jobs in order into ``run_dir``: (a status record per job, whether Ctrl-C
    interrupted them). After a failing notebook the rest are 'not run' unless ``keep_going``;
    after Ctrl-C the notebook it stopped is 'interrupted' and the rest 'not run', each record
    carrying the command that resumes the run."""
    records = []
    try:
        for job in jobs:
            print(f"running {job.path.name} ...", flush=True)
            records.append(execute(job, run_dir))
            print(f"  {records[-1]['status']} in {records[-1]['seconds']} s"
                  + (f"\n  {records[-1]['error']}" if records[-1]["status"] != "ok" else ""), flush=True)
            if records[-1]["status"] != "ok" and not keep_going:
                return records + [{"notebook": later.path.name, "status": "not run",
                                   "error": f"not run: {job.path.name} failed before it (--keep-going runs the rest)"}
                                  for later in jobs[len(records):]], False
    except KeyboardInterrupt:
        return records + [{"notebook": job.path.name, "output": str(run_dir / job.path.name),
                           "status": "not run" if i else "interrupted", "resume": resume}
                          for i, job in enumerate(jobs[len(records):])], True
    return records, False
