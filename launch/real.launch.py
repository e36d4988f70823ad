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
"""bringup.launch.py with mode:=real; every other argument of bringup.launch.py applies.

    ros2 launch world_model_planner real.launch.py [robot:=...] [model:=...] ...
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from world_model_planner import graph


def generate_launch_description() -> LaunchDescription:
    """Arguments given on the command line reach the included file; only the mode is fixed."""
    bringup = os.path.join(get_package_share_directory(graph.PACKAGE), graph.BRINGUP_LAUNCH)
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(bringup), launch_arguments=[("mode", "real")])])
