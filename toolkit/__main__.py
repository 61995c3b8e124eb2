"""``python -m toolkit``: the async demo."""

import sys

from toolkit._demo_cli import run_demo_cli
from toolkit.demo import demo

sys.exit(run_demo_cli(demo, "Async demo of the toolkit's repositories."))
