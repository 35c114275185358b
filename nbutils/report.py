"""``python -m nbutils.report RUN_FOLDER``: write RUN_FOLDER/report.html (nbutils.runs.html_report)
for a finished or running run, and print its path.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    """``python -m nbutils.report RUN_FOLDER``: write the run's report.html and print its path."""
    parser = argparse.ArgumentParser(prog="python -m nbutils.report",
                                     description="Write RUN_FOLDER/report.html for a finished (or running) run.")
    parser.add_argument("run_folder", type=Path, help="a run folder, e.g. runs/demo/20250101-120000")
    args = parser.parse_args(argv)
    from nbutils.runs.html_report import write_html_report
    try:
        path = write_html_report(args.run_folder)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
