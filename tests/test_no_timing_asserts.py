"""No test asserts a duration, a rate or a memory figure of the machine it runs on: such an
assert passes on one machine and fails on a slower or busier one (a 5 s CPU budget of the
runner's check failed at 6.4 s on a fresh 2-core machine). What a timing test wanted to know is
a behaviour (the check ran before any notebook started, loaded no torch, opened no connection) or a figure in
``bench/``, measured as a ratio in one run.

The guard reads every test file with ``ast``: an ``assert`` fails it when it compares a measured
quantity (a clock or ``resource`` call; a name, attribute or key whose snake_case parts include cpu,
wall, elapsed, seconds, duration, rss, memory ..., or ``per_s``) with anything else, except a sign check against 0
(``wall_seconds >= 0`` says a duration was recorded, not how long it was)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
CLOCKS = {"time", "perf_counter", "perf_counter_ns", "process_time", "process_time_ns", "monotonic",
          "monotonic_ns", "thread_time", "getrusage", "time_ns"}
CLOCK_MODULES = {"time", "resource", "timeit", "tracemalloc", "psutil"}
# the parts of a snake_case name that say it holds a time, a rate or a memory figure
MEASURED_PARTS = {"cpu", "wall", "elapsed", "seconds", "second", "secs", "sec", "duration", "timing", "deadline",
                  "took", "throughput", "utime", "stime", "rss", "maxrss", "memory", "gib", "mib"}
RATE_PARTS = ("per", {"s", "sec", "second", "hour", "h", "min"})  # images_per_s, trainings_per_hour


def words_of(node: ast.AST) -> list[str]:
    """The names, attributes and constant subscript keys ``node`` is built of."""
    found = []
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.append(child.id)
        elif isinstance(child, ast.Attribute):
            found.append(child.attr)
        elif isinstance(child, ast.Subscript) and isinstance(child.slice, ast.Constant) \
                and isinstance(child.slice.value, str):
            found.append(child.slice.value)
    return found


def reads_a_clock(node: ast.AST) -> bool:
    """Whether ``node`` calls a clock (``time.perf_counter()``, ``resource.getrusage(...)``...) or
    reads an attribute of such a module."""
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name) \
                and child.value.id in CLOCK_MODULES:
            return True
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id in CLOCKS:
            return True
    return False


def names_a_measurement(word: str) -> bool:
    """Whether a name (``cpu``, ``wall_time``, ``peak_rss_gib``, ``images_per_s``) holds a time, a
    rate or a memory figure, by its snake_case parts (``separated`` and ``holds_rate`` do not)."""
    parts = [part for part in re.split(r"[_\W]+", word.lower()) if part]
    rate = any(a == RATE_PARTS[0] and b in RATE_PARTS[1] for a, b in zip(parts, parts[1:]))
    return rate or not MEASURED_PARTS.isdisjoint(parts)


def is_measured(node: ast.AST) -> bool:
    """A clock reading, or a value whose name says it is a time, a rate or a memory figure."""
    return reads_a_clock(node) or any(names_a_measurement(word) for word in words_of(node))


def is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == 0 and not isinstance(node.value, bool)


def timing_asserts(source: str) -> list[tuple[int, str]]:
    """(line, text) of every assert in ``source`` that compares a measured quantity with something."""
    found = []
    for statement in ast.walk(ast.parse(source)):
        if not isinstance(statement, ast.Assert):
            continue
        for compare in (n for n in ast.walk(statement.test) if isinstance(n, ast.Compare)):
            operands = [compare.left, *compare.comparators]
            for op, left, right in zip(compare.ops, operands, operands[1:]):
                if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                    continue  # == and != say what a value is, not how fast it came
                if is_zero(left) or is_zero(right):
                    continue  # a sign check: a duration was recorded
                if is_measured(left) or is_measured(right):
                    found.append((statement.lineno, ast.unparse(statement.test)))
                    break
    return found


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_no_test_asserts_the_speed_or_memory_of_its_machine(path):
    found = timing_asserts(path.read_text())
    assert not found, (f"{path.name} asserts a measured time, rate or memory figure of this machine: "
                       + "; ".join(f"line {line}: assert {text}" for line, text in found)
                       + ". Check a behaviour instead, or measure it as a ratio in bench/")


@pytest.mark.parametrize("planted", [
    "start = time.perf_counter()\nwork()\nelapsed = time.perf_counter() - start\nassert elapsed < 5\n",
    "start = time.perf_counter()\nwork()\nassert time.perf_counter() - start < 1\n",
    "before = resource.getrusage(resource.RUSAGE_CHILDREN)\nwork()\n"
    "after = resource.getrusage(resource.RUSAGE_CHILDREN)\nassert after.ru_utime - before.ru_utime < 5\n",
    "assert cpu < 5, f'the check took {cpu:.1f} s of CPU'\n",
    "assert row['wall_time'] <= 60\n",
    "assert 100 < images_per_s\n",
    "assert peak_rss_gib < 4 and ok\n",
    "assert time.monotonic() < deadline\n",
])
def test_a_planted_timing_assert_is_caught(planted):
    assert timing_asserts(planted), planted


@pytest.mark.parametrize("ordinary", [
    "assert row['ba'] > 0.8\n",
    "assert len(rows) == 3 and rows[0] < rows[1]\n",
    "assert record['wall_seconds'] >= 0\n",  # a sign check: the duration was recorded
    "assert cpu_has_native_bf16() == False\n",
    "assert loss < first_loss\n",
    "elapsed = 3\nprint(elapsed < 5)\n",  # not an assert
])
def test_an_ordinary_assert_is_not_caught(ordinary):
    assert not timing_asserts(ordinary), ordinary
