"""``python -m toolkit``: the async demo; ``python -m toolkit doctor`` checks a deployment,
``python -m toolkit migrations init`` sets up Alembic."""

import sys

command = sys.argv[1] if len(sys.argv) > 1 else None
if command == "doctor":
    from toolkit.doctor import doctor_command

    sys.exit(doctor_command(sys.argv[2:]))
elif command == "migrations":
    from toolkit.migrations import migrations_command

    sys.exit(migrations_command(sys.argv[2:]))
else:
    from toolkit._demo_cli import run_demo_cli
    from toolkit.demo import demo

    sys.exit(run_demo_cli(demo, "Async demo of the toolkit's repositories."))
