"""mkdocs hook: the benchmark plot is published from where the benchmark writes it.

``bench/report.py`` draws ``bench/results/report.png``, which README shows; the
benchmarks page shows the same file, so no copy of it is kept under docs/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

PLOT = "bench/results/report.png"


def on_files(files: Files, config: Any) -> Files:
    """Add the plot to the site at the same path it has in the repository."""
    files.append(File.generated(config, PLOT, abs_src_path=str(Path(config["config_file_path"]).parent / PLOT)))
    return files
