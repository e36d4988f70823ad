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
"""Installs as a ROS 2 ament_python package (colcon build) and with plain pip.

colcon reads package.xml for dependencies and installs console scripts to lib/<package> (see
setup.cfg) so `ros2 run` finds them; pip installs the Python dependencies below and puts the
same console scripts on PATH. launch/, config/, models/ and description/ go to
share/world_model_planner either way.
"""

import os

from setuptools import find_packages, setup

PACKAGE = "world_model_planner"


def share_tree(folder: str) -> list[tuple[str, list[str]]]:
    """data_files entries installing `folder` below share/<package>, keeping sub-folders."""
    entries = []
    for root, _dirs, files in os.walk(folder):
        files = sorted(f for f in files if not f.startswith("."))
        if files:
            entries.append((os.path.join("share", PACKAGE, root),
                            [os.path.join(root, f) for f in files]))
    return sorted(entries)


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*", "bench", "bench.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_tree("launch"),
        *share_tree("config"),
        *share_tree("models"),
        *share_tree("description"),
    ],
    python_requires=">=3.10",
    install_requires=[
        "setuptools",
        "numpy>=1.24",
        "pyyaml>=6",
        "transforms3d>=0.4",
        "tqdm>=4.60",
        "pillow>=9",
    ],
    extras_require={
        # ONNX Runtime: one of these two, never both (they provide the same module).
        "cpu": ["onnxruntime>=1.17"],
        "gpu": ["onnxruntime-gpu>=1.17"],
        "sim": ["mujoco>=3.2"],
        "ros": [
            "ros-rclpy[fastrtps]",
            "ros-sensor-msgs",
            "ros-std-msgs",
            "ros-trajectory-msgs",
            "ros-geometry-msgs",
            "ros-visualization-msgs",
            "ros-diagnostic-msgs",
            "mcap>=1.1",
            "mcap-ros2-support>=0.5",
        ],
        "train": [
            "torch>=2.3,<2.14",
            "safetensors>=0.4",
            "onnx>=1.15",
            "onnxscript>=0.1",
            "matplotlib>=3.7",
        ],
        "dev": [
            "onnxruntime>=1.17",
            "pytest>=7",
            "pytest-timeout>=2.1",
            "hypothesis>=6.80",
            "xacro>=2.0",
            "flake8>=6",
            # launch (from a ROS 2 install or ../shared/ros2-launch-jazzy, never pip-installed:
            # see tools/launch_env.py) imports it; the launch tests need it.
            "osrf-pycommon>=2",
        ],
    },
    zip_safe=True,
    maintainer="world_model_planner maintainers",
    maintainer_email="maintainers@world-model-planner.org",
    description="Learned world-model MPC for robot arms on ROS 2",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "wmp = world_model_planner.cli:main",
            "planner_node = world_model_planner.nodes.planner_node:main",
            "mujoco_sim_node = world_model_planner.nodes.mujoco_sim_node:main",
            "recorder_node = world_model_planner.nodes.recorder_node:main",
        ],
    },
)
