"""The claims table and the gains over a baseline as Markdown sentences, each effect with its
interval and verdict: what a notebook, the report and the README print about a run's outcome.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbutils.analysis.papers import method_label


def signed_interval(effect: float, low: float, high: float, scale: float = 100, digits: int = 1) -> str:
    """"+5.2 (95% interval +1.0 to +9.4)" (values times ``scale``); no interval when NaN."""
    if np.isnan(effect):
        return "no value"
    text = f"{effect * scale:+.{digits}f}"
    return text if np.isnan(low) else f"{text} (95% interval {low * scale:+.{digits}f} to {high * scale:+.{digits}f})"


def bracketed(effect: float, low: float, high: float, digits: int = 1) -> str:
    """"+5.2 [+1.0, +9.4]": an effect with its interval, as the tables print it (values as given)."""
    return f"{effect:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def claim_unit(row) -> str:
    """The unit of a claims row's effect: its ``unit`` column (``claims.POINTS`` or
    ``claims.LN_RATIO``); for tables written before that column, read from the metric."""
    unit = getattr(row, "unit", None)
    if isinstance(unit, str) and unit:
        return unit
    if str(row.metric).startswith("Kendall tau"):
        return "kendall tau"
    return "progress std" if str(row.metric).startswith("asynchrony") else "points"


def kendall_text(tau: float, low: float, high: float) -> str:
    if np.isnan(tau):
        return "Kendall tau not measured"
    return f"Kendall tau {tau:+.2f}" + ("" if np.isnan(low) else f" (95% interval {low:+.2f} to {high:+.2f})")


def claims_markdown(claims: pd.DataFrame) -> str:
    """Markdown bullets, one per row of a claims table (``claims.judge_claims``, with a ``task``
    column): the claim, its verdict, its effect with the interval the verdict is read from and
    the effect's unit, all read from the table; for the rank claim also Kendall tau, marked as
    the description it is. Tables written before the ``unit`` column read as they were written:
    the rank row's effect was Kendall tau, the synchrony row's the std of 0-1 progress."""
    lines = []
    for row in claims.itertuples():
        unit = claim_unit(row)
        if np.isnan(row.effect):
            effect = "no effect measured"
        elif unit == "kendall tau":
            effect = kendall_text(row.effect, row.low, row.high)
        elif unit == "points":
            effect = f"effect {signed_interval(row.effect, row.low, row.high)} points"
        elif unit == "ln ratio":
            effect = (f"effect {signed_interval(row.effect, row.low, row.high, scale=1, digits=3)} in natural-log "
                      "units (std across classes of ln(spread_t / spread_0))")
        else:
            effect = (f"effect {signed_interval(row.effect, row.low, row.high, scale=1, digits=3)} "
                      "(std across classes of their 0-1 progress)")
        if row.claim.startswith("BA and AP rank") and unit == "points":
            effect = effect.replace("effect", "largest BA-up-AP-down swap of the named pairs", 1)
            if not np.isnan(getattr(row, "kendall_tau", np.nan)):
                effect += f"; {kendall_text(row.kendall_tau, row.tau_low, row.tau_high)}, a description"
        lines.append(f"- *{row.task}* — {row.claim}: **{row.verdict}**; {effect}, {row.n_seeds} seed(s).")
    return "\n".join(lines)


GAIN_WORDS = {"holds": "a gain", "does not hold": "no gain"}


def gains_markdown(gains: pd.DataFrame, task: str) -> str:
    """One sentence per method of a ``claims.gains_over`` table: its gain over the baseline on
    each metric, with interval and verdict, all read from the table."""
    if gains.empty:
        return f"*{task}*: none of these methods ran beside the baseline, so there is nothing to report."
    sentences = []
    for method, group in gains.groupby("method_a", sort=False):
        parts = [f"{r.metric} {signed_interval(r.effect, r.low, r.high)} ({GAIN_WORDS.get(r.verdict, r.verdict)})"
                 for r in group.itertuples()]
        sentences.append(f"- *{task}*, {method_label(method)} − {group['method_b'].iloc[0]}: " + "; ".join(parts)
                         + f" ({group['n_seeds'].iloc[0]} seed(s)).")
    return "\n".join(sentences)
