"""Every reference in the repository's text points at something its users have: a paper by title
and section, or a file in the repository — never a file, tracker or conversation outside it."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".ipynb", ".toml", ".txt", ".cfg", ".ini", ".sh", ".html", ".csv"}
TEXT_NAMES = {"Makefile"}

# What a reader of the repository cannot open, each with what to cite instead.
OUTSIDE = {
    r"(?:\.\./)?\bshared/(?:reference|seeds)\b": "a folder outside the repository: cite the paper by title and section",
    r"\b(?:balancing-act|lmfloss|regrouping-long|regrouping-short)\.txt\b": "a paper's text file outside the "
                                                                           "repository: cite its title and section",
    r"\b(?:methods|datasets)\.md\b": "a reference file outside the repository: cite the paper (title, section, "
                                     "equation) or a file in the repository",
    r"\bissues? #?\d+": "a tracker the repository does not ship: say what the change is about",
    r"\bhelper [A-Z]-?[A-Z]?\b|\bthe lead\b|\b(?:this|same|previous|last|earlier) session\b":
        "who worked on it, which a reader cannot look up: say what was done",
    r"/work/(?:shared|notes|main)\b": "a path of one machine: use a path relative to the repository",
}
PATTERN = re.compile("|".join(f"(?P<p{i}>{p})" for i, p in enumerate(OUTSIDE)), re.IGNORECASE)


def outside_references(text: str) -> list[tuple[str, str]]:
    """(the matched text, what to do instead) for every reference to something outside the repository."""
    reasons = list(OUTSIDE.values())
    return [(m.group(0), reasons[int(m.lastgroup[1:])]) for m in PATTERN.finditer(text)]


def repository_text_files() -> list[Path]:
    """Tracked and new (not ignored) text files of the repository."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    files = [ROOT / name for name in listed]
    return [f for f in files if f.is_file() and (f.suffix in TEXT_SUFFIXES or f.name in TEXT_NAMES)]


def test_the_finder_flags_each_kind_of_outside_reference_and_not_in_repository_ones():
    # each example is cut in two, so that this file does not hold the references it looks for
    outside = ["Formulas: shared" + "/reference/" + "methods" + ".md.", "(" + "lmfloss" + ".txt, section 3.2)",
               "# ---- cosine head (" + "issue" + " 12)", "left to the " + "lead", "changes of the same " + "session",
               "see " + "datasets" + ".md", "cd /work/" + "shared" + "/seeds", "../" + "shared" + "/seeds/x"]
    for text in outside:
        assert outside_references(text), text
    inside = ["nbutils/resources/paper_tables.csv", "it is also issued as a warning", "once per session (pytest)",
              '"LMFLoss: A Hybrid Loss for Imbalanced Medical Image Classification", section 3.2',
              "nbutils/data/datasets.py", "seeds: [0, 1]", "tests/conftest.py calls apply at session start"]
    for text in inside:
        assert not outside_references(text), text


def test_the_scan_covers_the_package_notebooks_params_bench_and_tests():
    folders = {f.relative_to(ROOT).parts[0] for f in repository_text_files()}
    assert {"nbutils", "notebooks", "params", "bench", "tests", "README.md"} <= folders


@pytest.mark.parametrize("path", repository_text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_points_outside_the_repository(path):
    found = outside_references(path.read_text(errors="replace"))
    assert not found, f"{path.relative_to(ROOT)}: " + "; ".join(f"{text!r} is {why}" for text, why in found)
