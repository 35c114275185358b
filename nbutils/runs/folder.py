"""What a notebook leaves in its run folder: figures as PNG and PDF, tables as CSV and JSON, and the
metrics a regression run compares (:class:`RunFolder`); and the readers of a finished run's
``summary.json`` and metrics.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class RunFolder:
    """A notebook's outputs under ``run_dir``: ``figures/NAME.{png,pdf}``, ``tables/NAME.{csv,json}``,
    ``metrics/NAME.json``."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir)
        for sub in ("figures", "tables", "metrics"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def save_figure(self, fig, name: str):
        """Write ``fig`` as ``figures/NAME.png`` (for the report) and ``figures/NAME.pdf`` (vector,
        for papers) and return it, so a notebook cell still shows it inline."""
        for suffix, options in ((".png", {"dpi": 110}), (".pdf", {})):
            fig.savefig(self.path / "figures" / f"{name}{suffix}", bbox_inches="tight", **options)
        return fig

    def save_table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        table.to_csv(self.path / "tables" / f"{name}.csv", index=not isinstance(table.index, pd.RangeIndex))
        table.reset_index().to_json(self.path / "tables" / f"{name}.json", orient="records", indent=1)
        return table

    def save_metrics(self, metrics: dict[str, Any], name: str) -> dict[str, Any]:
        """Flat {key: number} a regression run compares against its reference."""
        clean = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v))
                 for k, v in metrics.items()}
        (self.path / "metrics" / f"{name}.json").write_text(json.dumps(clean, indent=1, sort_keys=True))
        return clean


def regression_metrics(rows: pd.DataFrame, metrics: tuple[str, ...] = ("ba", "macro_ap")) -> dict[str, float]:
    """{'<task>/<method>/<metric>': mean over seeds} for the regression reference."""
    means = rows.groupby(["task", "method"])[list(metrics)].mean()
    return {f"{task}/{method}/{m}": float(means.loc[(task, method), m])
            for task, method in means.index for m in metrics}


def read_run_metrics(run_dir: str | Path) -> dict[str, float]:
    """Every notebook's metrics of a run folder, as {'<notebook metrics file>/<key>': value}."""
    merged = {}
    for path in sorted(Path(run_dir).glob("metrics/*.json")):
        merged.update({f"{path.stem}/{k}": v for k, v in json.loads(path.read_text()).items()})
    return merged


def read_summary(run_dir: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(per-notebook records, provenance) of a run's ``summary.json``: {"notebooks": [...],
    "provenance": {...}} (``nbutils.runs.provenance``), or the older plain list of records (no
    provenance). ([], {}) when the run wrote no summary yet."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return [], {}
    summary = json.loads(path.read_text())
    if isinstance(summary, list):
        return summary, {}
    return summary.get("notebooks", []), summary.get("provenance", {})
