"""MkDocs hooks (mkdocs.yml's ``hooks``): files the docs show that live outside ``docs/``.

``assets/ratios.svg`` is the benchmark's chart, ``benchmarks/ratios.svg``, which
``python -m benchmarks.compare`` rewrites: the site takes it from there at each build, so no
copy in ``docs/`` can drift. Without it (a checkout where it was removed) the site shows a note
saying how to draw it, and the build stays clean.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

CHART = "assets/ratios.svg"
_MISSING_CHART = """\
<svg xmlns="http://www.w3.org/2000/svg" width="640" height="60" role="img">
  <text x="10" y="35" font-family="sans-serif" font-size="14">
    No chart yet: python -m benchmarks.compare writes benchmarks/ratios.svg
  </text>
</svg>
"""


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the benchmark's chart as ``assets/ratios.svg``, unless ``docs/`` has one."""
    if files.get_file_from_path(CHART) is None:
        chart = Path(config.config_file_path).parent / "benchmarks" / "ratios.svg"
        if chart.is_file():
            files.append(File.generated(config, CHART, abs_src_path=str(chart)))
        else:
            files.append(File.generated(config, CHART, content=_MISSING_CHART))
    return files
