"""A reader of README.md or of the docs sees the benchmark figures exactly as the committed results hold them.

No figure in README or docs/ is typed by hand: ``bench/report.py`` copies each
results file into its ``<!-- begin include ... -->`` block, in README and in
every docs page.  README stays the short page PyPI shows; its links lead into
docs/, and the changelog says for every release whether the cache format changed.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import report  # noqa: E402
from report import included  # noqa: E402

README = (REPO / "README.md").read_text()
README_LIMIT = 10 * 1024  # bytes: the pitch, install, what you see, two tables, one figure, links, two commands

# No pip runs here.
pytestmark = pytest.mark.same_on_every_pip


def pages_with_blocks() -> List[Path]:
    """Every Markdown file of the repository that shows a results file (what tools made in it aside)."""
    skip = {".git", ".tox", ".tox-venv", "work", "site", "__pycache__", "node_modules"}
    pages = []
    for root, folders, files in os.walk(REPO):
        folders[:] = [f for f in folders if f not in skip and not f.endswith(".egg-info")]
        pages += [Path(root, name) for name in files if name.endswith(".md")]
    return sorted(page for page in pages if included(page.read_text()))


def test_every_page_shows_each_committed_result_file_as_it_is() -> None:
    pages = pages_with_blocks()
    shown = {path for page in pages for path, _ in included(page.read_text())}
    assert shown >= {
        "bench/results/headline.md",
        "bench/results/report.md",
        "bench/results/trees.md",
        "bench/results/first.md",
        "bench/results/recreate.md",
        "bench/results/team.md",
        "bench/results/startup.md",
        "bench/results/cli_speed.md",
        "bench/results/ci_cache.md",
    }
    for page in pages:
        for path, text in included(page.read_text()):
            assert text == (REPO / path).read_text(), (
                f"{page.relative_to(REPO)}'s copy of {path} differs: run python3 bench/report.py")


def test_the_report_script_fills_every_page_that_shows_a_result() -> None:
    assert set(pages_with_blocks()) <= set(report.pages())


def test_readme_shows_one_figure_and_the_committed_plot() -> None:
    assert [path for path, _ in included(README)] == ["bench/results/headline.md"]
    assert "(bench/results/report.png)" in README
    assert (REPO / "bench" / "results" / "report.png").stat().st_size > 0


def test_readme_is_the_short_page() -> None:
    size = len(README.encode())
    assert size <= README_LIMIT, f"README.md is {size} bytes, more than {README_LIMIT}: move text into docs/"


def test_every_relative_link_in_readme_leads_to_a_file() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    relative = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]
    assert any(t.startswith("docs/") for t in relative)
    missing = [t for t in relative if not (REPO / t).is_file()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_the_docs_site_lists_every_page() -> None:
    config = (REPO / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", config, re.M))
    pages = {str(p.relative_to(REPO / "docs")) for p in (REPO / "docs").rglob("*.md")}
    assert listed == pages


def test_every_release_in_the_changelog_says_whether_the_cache_format_changed() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    releases = re.split(r"^## ", changelog, flags=re.M)[1:]
    assert releases and releases[0].startswith("Unreleased")
    for release in releases:
        title = release.splitlines()[0]
        assert re.search(r"^Cache format: ", release, re.M), f"CHANGELOG's {title!r} has no cache format line"


def test_ci_runs_the_test_command_the_readme_gives() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line for line in README.splitlines() if ".tox-venv/bin/python -m tox" in line]
    assert len(commands) == 1 and commands[0] in ci.splitlines()
