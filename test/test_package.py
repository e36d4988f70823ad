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
"""Package hygiene a ROS reviewer checks first: manifest, install layout, headers, layering."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEADER = 'Licensed under the Apache License, Version 2.0 (the "License");'


def test_package_xml_is_format_3_with_the_dependencies_we_use():
    root = ET.parse(ROOT / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "world_model_planner"
    assert root.findtext("export/build_type") == "ament_python"
    exec_deps = {e.text for e in root.findall("exec_depend")}
    test_deps = {e.text for e in root.findall("test_depend")}
    for dep in ("rclpy", "sensor_msgs", "std_msgs", "trajectory_msgs", "geometry_msgs",
                "visualization_msgs", "diagnostic_msgs", "robot_state_publisher", "xacro",
                "controller_manager", "ros_gz_sim", "ros_gz_bridge", "python3-numpy",
                "python3-yaml", "python3-transforms3d"):
        assert dep in exec_deps, dep
    for dep in ("launch_testing", "launch_testing_ros", "python3-pytest", "ament_copyright",
                "ament_flake8", "ament_pep257"):
        assert dep in test_deps, dep


def test_setup_installs_share_folders_and_console_scripts():
    proc = subprocess.run([sys.executable, "-c", (
        "import setuptools, json, sys\n"
        "captured = {}\n"
        "setuptools.setup = lambda **kw: captured.update(kw)\n"
        "exec(open('setup.py').read())\n"
        "print(json.dumps({'data': captured['data_files'], "
        "'scripts': captured['entry_points']['console_scripts'], "
        "'extras': sorted(captured['extras_require'])}))")],
        cwd=ROOT, capture_output=True, text=True, check=True)
    import json

    info = json.loads(proc.stdout)
    targets = {dest for dest, _ in info["data"]}
    for folder in ("config", "description"):
        assert f"share/world_model_planner/{folder}" in targets
    assert "share/ament_index/resource_index/packages" in targets
    assert any(s.startswith("wmp = ") for s in info["scripts"])
    assert {"sim", "ros", "gpu", "dev"} <= set(info["extras"])
    cfg = (ROOT / "setup.cfg").read_text()
    assert "script_dir=$base/lib/world_model_planner" in cfg
    assert (ROOT / "resource" / "world_model_planner").is_file()


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        pytest.skip("not a git checkout")
    return [ROOT / line for line in out.stdout.splitlines()]


def test_every_source_file_carries_the_apache_header():
    exts = {".py", ".xacro", ".urdf", ".yaml", ".xml", ".sdf", ".sh"}
    missing = [str(p.relative_to(ROOT)) for p in tracked_files()
               if (p.suffix in exts or p.name in ("Makefile", "run")) and p.exists()
               and HEADER not in p.read_text(errors="replace")[:3000]]
    assert not missing, f"files without the Apache-2.0 header: {missing}"


def test_core_never_imports_rclpy():
    offenders = []
    for path in (ROOT / "world_model_planner" / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "rclpy" or n.startswith("rclpy.") or n.endswith("_msgs")
                   or ".msg" in n for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"core/ must stay ROS-free: {offenders}"


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text().split("\n## ")[0]
    commands = re.findall(r"^\s*(make \w+)\s*$", head, flags=re.M)
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_code_passes_flake8():
    pytest.importorskip("flake8", reason="flake8 is not installed (pip install '.[dev]')")
    proc = subprocess.run([sys.executable, "-m", "flake8", "world_model_planner", "test",
                           "bench", "launch", "tools"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
