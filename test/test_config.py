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
"""Configuration errors name the file and the key; the shipped config files load."""

from __future__ import annotations

import pytest

from world_model_planner.core import config as cfg
from world_model_planner.core.paths import share_path


def write(tmp_path, text: str):
    path = tmp_path / "sim.yaml"
    path.write_text(text)
    return path


def sim_file(body: str) -> str:
    return "mujoco_sim:\n  ros__parameters:\n" + "".join(
        f"    {line}\n" for line in body.strip().splitlines())


def test_shipped_config_files_load():
    sim = cfg.load(cfg.SimulationConfig, share_path("config", "sim.yaml"), node=cfg.SIM_NODE)
    assert sim.sim.control_period == pytest.approx(0.1)
    assert sim.sim.physics_timestep == pytest.approx(0.002)
    assert sim.reach.success_radius == pytest.approx(0.03)
    assert sim.perturbations.enabled() == ()
    cfg.load(cfg.CollectConfig, share_path("config", "collect.yaml"))
    robot = cfg.load(cfg.RobotConfig, share_path("config", "robots", "wmp_arm.yaml"))
    assert robot.tool_frame == "tool_link"


def test_unknown_key_names_file_and_key(tmp_path):
    path = write(tmp_path, sim_file("sim:\n  control_perod: 0.1"))
    with pytest.raises(cfg.ConfigError) as err:
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    assert str(path) in str(err.value) and "sim.control_perod" in str(err.value)
    assert "control_period" in str(err.value)  # the valid keys are listed


def test_wrong_type_names_the_key(tmp_path):
    path = write(tmp_path, sim_file("sim:\n  image_width: sixty-four"))
    with pytest.raises(cfg.ConfigError, match=r"sim\.yaml: sim\.image_width: expected int"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    path = write(tmp_path, sim_file("sim:\n  shadows: 1"))
    with pytest.raises(cfg.ConfigError, match="sim.shadows: expected bool"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    path = write(tmp_path, sim_file("perturbations:\n  push:\n    force: [1.0, 2.0]"))
    with pytest.raises(cfg.ConfigError, match="perturbations.push.force: expected 3 values"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)


def test_out_of_range_value_names_the_key_and_bound(tmp_path):
    path = write(tmp_path, sim_file("reach:\n  success_radius: -0.01"))
    with pytest.raises(cfg.ConfigError, match=r"reach\.success_radius: must be > 0"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    path = write(tmp_path, sim_file("sim:\n  control_period: 0.005\n  physics_timestep: 0.002"))
    with pytest.raises(cfg.ConfigError, match="whole multiple of physics_timestep"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    path = write(tmp_path, sim_file("sim:\n  control_period: .nan"))
    with pytest.raises(cfg.ConfigError, match="finite"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)


def test_bad_yaml_and_missing_section_name_the_file(tmp_path):
    path = write(tmp_path, "mujoco_sim: [unclosed\n")
    with pytest.raises(cfg.ConfigError, match="sim.yaml: not valid YAML"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    path = write(tmp_path, "planner:\n  ros__parameters: {}\n")
    with pytest.raises(cfg.ConfigError, match="no 'mujoco_sim: ros__parameters:' section"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE)
    with pytest.raises(cfg.ConfigError, match="cannot read"):
        cfg.load(cfg.SimulationConfig, tmp_path / "absent.yaml", node=cfg.SIM_NODE)


def test_overrides_are_validated_like_the_file():
    path = share_path("config", "sim.yaml")
    sim = cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE,
                   overrides={"sim.image_width": 32, "perturbations.dropout.enabled": True})
    assert sim.sim.image_width == 32 and sim.perturbations.enabled() == ("dropout",)
    with pytest.raises(cfg.ConfigError, match="sim.image_width: must be >= 8"):
        cfg.load(cfg.SimulationConfig, path, node=cfg.SIM_NODE,
                 overrides={"sim.image_width": 2})


def test_flatten_round_trips_for_ros_parameters():
    sim = cfg.SimulationConfig()
    flat = cfg.flatten(sim)
    assert flat["perturbations.push.force"] == (0.0, 60.0, 0.0)
    assert cfg.from_dict(cfg.SimulationConfig, cfg.unflatten(flat)) == sim
    names = [name for name, _, _ in cfg.leaves(cfg.SimulationConfig)]
    assert names == list(flat)
