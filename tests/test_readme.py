"""A reader of README.md sees the benchmark figures exactly as the committed results hold them.

No figure in README is typed by hand: ``bench/report.py`` copies each
results file into its ``<!-- begin include ... -->`` block.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from report import included  # noqa: E402

README = (REPO / "README.md").read_text()

# No pip runs here.
pytestmark = pytest.mark.same_on_every_pip


def test_readme_shows_each_committed_result_file_as_it_is() -> None:
    blocks = included(README)
    assert {path for path, _ in blocks} >= {
        "bench/results/report.md",
        "bench/results/recreate.md",
        "bench/results/startup.md",
        "bench/results/cli_speed.md",
    }
    for path, shown in blocks:
        assert shown == (REPO / path).read_text(), f"README's copy of {path} differs: run python3 bench/report.py"


def test_readme_shows_the_committed_plot() -> None:
    assert "(bench/results/report.png)" in README
    assert (REPO / "bench" / "results" / "report.png").stat().st_size > 0


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line for line in README.splitlines() if ".tox-venv/bin/python -m tox" in line]
    assert len(commands) == 1 and commands[0] in ci.splitlines()
