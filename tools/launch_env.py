# Copyright 2026 The world_model_planner Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""The launch files and launch_testing tests from this checkout, with the real launch, launch_ros
and launch_testing, on a machine with or without a ROS 2 install.

    .venv/bin/python tools/launch_env.py launch_test test/test_mujoco_launch.py
    .venv/bin/python tools/launch_env.py launch bringup.launch.py mode:=mujoco
    eval "$(.venv/bin/python tools/launch_env.py exports)"   # then launch_test ... by hand

Where launch_testing and launch_ros import already (a sourced ROS 2 install) they are used;
otherwise the unmodified Jazzy sources in ../shared/ros2-launch-jazzy go on PYTHONPATH, after
what is there (their README's way: installing them with pip would register launch_testing's
pytest plugin, which pytest 9 rejects). Either way an ament prefix for this package is made, as
`colcon build --symlink-install` would: share/world_model_planner is this checkout and
lib/world_model_planner/<executable> runs the node with this Python, so
get_package_share_directory and launch_ros Node find them. test/test_launch_testing.py uses the
same functions, so `make test` runs the launch tests exactly this way.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, when run without an install

from world_model_planner.graph import PACKAGE  # noqa: E402
from world_model_planner.supervisor import OUR_MODULES  # noqa: E402

LAUNCH_SOURCES = ROOT.parent / "shared" / "ros2-launch-jazzy"
# Folders of LAUNCH_SOURCES that go on PYTHONPATH, in its README's order.
SOURCE_FOLDERS = ("launch", "launch_xml", "launch_yaml", "launch_testing", "launch_ros",
                  "launch_testing_ros", "stubs")
DEFAULT_PREFIX = ROOT / "build" / "ament_prefix"
ROS2_LAUNCH = ROOT / "tools" / "ros2_launch.py"
# pytest's own variables: a launch test started from a pytest test is not itself under pytest.
PYTEST_VARIABLES = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_ADDOPTS")


def ros_install_has_launch() -> bool:
    """launch_testing and launch_ros import here from an install (a sourced ROS 2 install), not
    from LAUNCH_SOURCES put on sys.path by this process (test_launch_actions.py does)."""
    shared = LAUNCH_SOURCES.resolve()
    for module in ("launch_testing", "launch_ros"):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None or Path(spec.origin).resolve().is_relative_to(
                shared):
            return False
    return True


def launch_pythonpath() -> list[str] | None:
    """Folders PYTHONPATH needs for launch: none on a ROS 2 install, the shared sources' folders
    where they are, None where neither is."""
    if ros_install_has_launch():
        return []
    folders = [LAUNCH_SOURCES / f for f in SOURCE_FOLDERS]
    if all(f.is_dir() for f in folders):
        return [str(f) for f in folders]
    return None


def unavailable_reason() -> str:
    return (f"launch and launch_testing are not here: neither a sourced ROS 2 install (Jazzy/"
            f"Kilted) nor the Jazzy sources in {LAUNCH_SOURCES} (see their README)")


def make_ament_prefix(prefix: Path = DEFAULT_PREFIX) -> Path:
    """An ament prefix whose world_model_planner is this checkout (idempotent)."""
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True, exist_ok=True)
    (index / PACKAGE).touch()
    share = prefix / "share" / PACKAGE
    if share.is_symlink() and share.resolve() != ROOT:
        share.unlink()
    if not share.is_symlink():
        share.symlink_to(ROOT, target_is_directory=True)
    lib = prefix / "lib" / PACKAGE
    lib.mkdir(parents=True, exist_ok=True)
    for executable, module in OUR_MODULES.items():
        script = lib / executable
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m {module} "$@"\n')
        script.chmod(0o755)
    return prefix


def launch_environment(prefix: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) with launch importable and `prefix` first on
    AMENT_PREFIX_PATH. Raises RuntimeError with unavailable_reason() where launch is not here."""
    folders = launch_pythonpath()
    if folders is None:
        raise RuntimeError(unavailable_reason())
    env = dict(os.environ if base is None else base)
    for name in PYTEST_VARIABLES:
        env.pop(name, None)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p] + folders
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    prefixes = [str(prefix)] + [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep)
                                if p and p != str(prefix)]
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(prefixes)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("MUJOCO_GL", "egl")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written into ../shared or launch/
    return env


def launch_test_command(test_file: str, *arguments: str) -> list[str]:
    """What the `launch_test` command runs."""
    return [sys.executable, "-m", "launch_testing.launch_test", test_file, *arguments]


def launch_command(launch_file: str, *arguments: str) -> list[str]:
    """What `ros2 launch world_model_planner <launch_file> <arguments>` runs."""
    return [sys.executable, str(ROS2_LAUNCH), PACKAGE, launch_file, *arguments]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    test = sub.add_parser("launch_test", help="run a launch_testing file (launch_test FILE)")
    test.add_argument("file")
    launch = sub.add_parser("launch", help=f"ros2 launch {PACKAGE} FILE [name:=value ...]")
    launch.add_argument("file")
    sub.add_parser("exports", help="print the shell exports (eval them, then run by hand)")
    parser.add_argument("--prefix", type=Path, default=DEFAULT_PREFIX,
                        help=f"where to make the ament prefix (default {DEFAULT_PREFIX})")
    args, rest = parser.parse_known_args(argv)
    try:
        env = launch_environment(make_ament_prefix(args.prefix.resolve()))
    except RuntimeError as exc:
        print(f"launch_env: {exc}", file=sys.stderr)
        return 1
    if args.command == "exports":
        for name in ("PYTHONPATH", "AMENT_PREFIX_PATH"):
            print(f"export {name}='{env[name]}'")
        return 0
    command = (launch_test_command(args.file, *rest) if args.command == "launch_test"
               else launch_command(args.file, *rest))
    os.execve(command[0], command, env)  # signals (Ctrl-C) go straight to launch


if __name__ == "__main__":
    sys.exit(main())
