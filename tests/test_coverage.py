"""Coverage of the claims' interval (``claims.effect_interval``) in simulated studies with a known effect.

A study: n seeds of a paired difference d_s = effect + u + e_s, e_s ~ N(0, seed std) the training
noise and u ~ N(0, image std) ONE draw shared by every seed (one test set: it does not shrink with
seeds); the bootstrap over test images gives B = 500 replicate values of the seed-mean difference,
simulated as N(mean(d), image std), so the image part is estimated, not known. The magnitudes are the
ones measured on the committed study (points of AP x100): at 9:1 a paired seed std of 0.3-0.5 and an
image part of 0.35, at 50:1 a seed std of 2-4 and an image part of 2.0; and a case where the image part
dominates and one where the seeds do. 4,000 studies per case, vectorised (``effect_interval`` takes
a batch); a fixed seed makes the numbers exact on any machine.
"""
import numpy as np
import pytest
from scipy import stats

from nbutils.analysis.claims import effect_interval

STUDIES, B, EFFECT = 4000, 500, 0.5
BAND = (0.93, 0.97)
# name: (paired seed std, image std), points
CASES = {"9:1, seed std 0.3": (0.3, 0.35), "9:1, seed std 0.5": (0.5, 0.35),
         "50:1, seed std 2": (2.0, 2.0), "50:1, seed std 4": (4.0, 2.0),
         "images dominate": (0.1, 1.0), "seeds dominate": (1.0, 0.1)}


def simulate(seed_std: float, image_std: float, n_seeds: int, rng: np.random.Generator):
    """(per-seed differences (S, n), bootstrap replicates of their mean (S, B)) of STUDIES studies."""
    shared = rng.normal(0, image_std, STUDIES)  # the one test set's error, shared by every seed
    diffs = EFFECT + shared[:, None] + rng.normal(0, seed_std, (STUDIES, n_seeds))
    replicates = diffs.mean(axis=1)[:, None] + rng.normal(0, image_std, (STUDIES, B))
    return diffs, replicates


def coverages() -> dict[tuple[str, int], tuple[float, float]]:
    """(case, seeds) -> (coverage of effect_interval, coverage of the old rule t(n - 1) on the total se)."""
    rng = np.random.default_rng(20240611)
    out = {}
    for name, (seed_std, image_std) in CASES.items():
        for n in (3, 8):
            diffs, replicates = simulate(seed_std, image_std, n, rng)
            new = effect_interval(diffs, replicates)
            covered = (new.low <= EFFECT) & (EFFECT <= new.high)
            old_half = stats.t.ppf(0.975, n - 1) * np.sqrt(diffs.var(axis=1, ddof=1) / n + replicates.var(axis=1, ddof=1))
            old = np.abs(diffs.mean(axis=1) - EFFECT) <= old_half
            out[name, n] = (float(covered.mean()), float(old.mean()))
    return out


COVERAGE = coverages()


@pytest.mark.parametrize("case", list(COVERAGE), ids=[f"{c}, {n} seeds" for c, n in COVERAGE])
def test_the_95_percent_interval_covers_the_true_effect_in_93_to_97_percent_of_studies(case):
    new, old = COVERAGE[case]
    assert BAND[0] <= new <= BAND[1], f"{case}: effect_interval covers {new:.3f} (today's rule {old:.3f})"


def test_todays_rule_misses_the_band_where_the_image_part_is_large():
    """t(n - 1) on the total se multiplies the well-measured image part by t(2) = 4.3 at 3 seeds."""
    missed = {case: old for case, (_, old) in COVERAGE.items() if not BAND[0] <= old <= BAND[1]}
    assert ("images dominate", 3) in missed and missed["images dominate", 3] > 0.99
    assert ("9:1, seed std 0.3", 3) in missed and ("50:1, seed std 2", 3) in missed


def test_the_interval_is_never_narrower_than_the_seeds_alone_would_give():
    """Adding a noise source must not narrow an interval: WS's estimated d.o.f. alone would, when s^2
    happens to come out small (at 3 seeds it then covered 92.9% where seeds dominate)."""
    diffs, replicates = simulate(1.0, 0.1, 3, np.random.default_rng(1))
    both, seeds = effect_interval(diffs, replicates), effect_interval(diffs)
    assert np.all(both.high - both.low >= seeds.high - seeds.low - 1e-12)


def test_the_image_part_does_not_shrink_with_seeds():
    """With many seeds the interval tends to mean ± t(B - 1) * image std, not to a point."""
    diffs, replicates = simulate(0.5, 2.0, 64, np.random.default_rng(2))
    effect = effect_interval(diffs, replicates)
    assert np.median((effect.high - effect.low) / 2) == pytest.approx(stats.t.ppf(0.975, 499) * 2.0, rel=0.05)
