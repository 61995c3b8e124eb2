"""The wheel holds the ``toolkit`` package and nothing else at the top level, and the demo it
ships runs from the wheel alone, in an application's folder that has a ``models`` of its own.

The repository's ``models`` and ``examples`` packages are for the tests and for a checkout; a
wheel that installed them would shadow an application's own ``models`` (or be shadowed by it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import pytest
from hatchling.builders.wheel import WheelBuilder

ROOT = Path(__file__).resolve().parent.parent
OWN_VARIABLES = ("STORAGE_", "POSTGRES_DATABASE_URL", "SQLITE_DATABASE_URL", "REDIS_URL")
HOSTILE_MODELS = 'raise ImportError("the application\'s own models.py was imported")\n'


def top_level_import_names(names: Iterable[str]) -> set[str]:
    """What a wheel's files make importable at the top level: folders holding Python files, and
    Python modules, at the root or in a ``*.data/purelib`` or ``platlib`` folder."""
    found: set[str] = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if parts[0].endswith(".dist-info"):
            continue
        if parts[0].endswith(".data"):
            if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                continue  # scripts, headers, data: installed elsewhere
            parts = parts[2:]
        if len(parts) > 1:
            if parts[-1].endswith((".py", ".pyi")) or ".cpython-" in parts[-1]:
                found.add(parts[0])
        elif parts[0].endswith((".py", ".pth", ".so", ".pyd")):
            found.add(parts[0].rsplit(".", 1)[0].split(".")[0])
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel that ``pip install .`` would install, built offline with hatchling."""
    directory = tmp_path_factory.mktemp("dist")
    built = list(WheelBuilder(str(ROOT)).build(directory=str(directory), versions=["standard"]))
    assert len(built) == 1, built
    return Path(built[0])


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def unpacked_wheel(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel's files, as a plain install would put them in site-packages."""
    directory = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(directory)
    return directory


def test_top_level_import_names_reads_what_a_wheel_installs() -> None:
    names = [
        "toolkit/__init__.py",
        "toolkit/py.typed",
        "models/__init__.py",
        "examples.py",
        "data/readme.txt",
        "toolkit-0.1.0.dist-info/METADATA",
        "toolkit-0.1.0.data/purelib/extra/__init__.py",
        "toolkit-0.1.0.data/scripts/run.py",
        "speedups.cpython-311-x86_64-linux-gnu.so",
        "toolkit.pth",
    ]

    assert top_level_import_names(names) == {"toolkit", "models", "examples", "extra", "speedups"}


def test_the_wheel_installs_only_the_toolkit_package(wheel_names: set[str]) -> None:
    assert top_level_import_names(wheel_names) == {"toolkit"}
    assert not any(name.startswith(("models/", "examples/", "tests/")) for name in wheel_names)


def test_the_wheel_carries_the_data_files_the_package_reads(wheel_names: set[str]) -> None:
    assert "toolkit/repositories/redis/_script.lua" in wheel_names
    assert "toolkit/repositories/redis/_batch.lua" in wheel_names
    assert "toolkit/repositories/redis/_read.lua" in wheel_names
    assert "toolkit/py.typed" in wheel_names
    assert "toolkit/_demo_models.py" in wheel_names


def test_the_demo_runs_from_the_wheel_beside_an_applications_own_models(
    unpacked_wheel: Path, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "models.py").write_text(HOSTILE_MODELS)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}
    # -S: no site-packages processing, so the editable install's .pth file cannot put the
    # repository's root on the path; the venv's packages come from PYTHONPATH, after the wheel's.
    site_packages = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    env = {
        **clean,
        "PYTHONPATH": os.pathsep.join([str(unpacked_wheel), *site_packages]),
        "SQLITE_DATABASE_URL": f"sqlite+aiosqlite:///{app / 'demo.db'}",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-S", "-W", "error", *args],
            cwd=app,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # The setting is what it should be: the toolkit comes from the wheel, the repository is not
    # on the path, and `models` is the application's (which refuses to be imported).
    probe = run(
        "-c",
        "import json, sys, toolkit\n"
        "print(toolkit.__file__)\n"
        "print(json.dumps(sys.path))\n"
        "try:\n"
        "    import models\n"
        "except ImportError as exc:\n"
        "    print(exc)\n",
    )
    assert probe.returncode == 0, probe.stderr
    toolkit_file, path, models_import = probe.stdout.splitlines()
    assert Path(toolkit_file).resolve().is_relative_to(unpacked_wheel.resolve())
    assert ROOT not in {(app / entry).resolve() for entry in json.loads(path)}  # "" is the cwd
    assert models_import == "the application's own models.py was imported"

    completed = run("-m", "toolkit")

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    lines = completed.stdout.splitlines()
    assert lines[0] == "backend: sqlite"
    assert "a second team with the same name: ConflictError" in lines
    assert lines[-1] == "done; tables used: demo_team, demo_hero, demo_action"
    assert (app / "demo.db").exists()
