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
"""`ros2 launch PACKAGE FILE [name:=value ...]` where launch is installed but ros2cli is not.

ros2launch's launch_a_launch_file does this: one LaunchService running the package's launch file
(from <share>/launch/) with the arguments, its exit status the command's. tools/launch_env.py runs
this file with launch on PYTHONPATH and this checkout as the package.
"""

from __future__ import annotations

import os
import sys

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import AnyLaunchDescriptionSource


def parse_arguments(arguments: list[str]) -> list[tuple[str, str]]:
    """name:=value pairs, as ros2 launch takes them."""
    pairs = []
    for argument in arguments:
        name, sep, value = argument.partition(":=")
        if not sep or not name:
            raise SystemExit(f"ros2_launch: '{argument}' is not name:=value")
        pairs.append((name, value))
    return pairs


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit("usage: ros2_launch.py PACKAGE LAUNCH_FILE [name:=value ...]")
    package, launch_file, *arguments = argv
    path = os.path.join(get_package_share_directory(package), "launch", launch_file)
    service = LaunchService(argv=arguments, noninteractive=True)
    service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
        AnyLaunchDescriptionSource(path), launch_arguments=parse_arguments(arguments))]))
    return service.run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
