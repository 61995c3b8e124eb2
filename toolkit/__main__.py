"""``python -m toolkit``: the async demo."""

import sys

from toolkit.demo import demo
from toolkit.demo_cli import run_demo_cli

sys.exit(run_demo_cli(demo, "Async demo of the toolkit's repositories."))
