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
"""Typed, validated configuration from config/*.yaml.

`schema` holds the machinery (loading, checking, flattening for ROS parameters); each subsystem
owns its schema in a module of its own (`robot`, `sim`, `data`, `model`, `planning`). Everything
is re-exported here, so callers import from `core.config` without knowing which module owns what.
"""

from .cell import SceneCameraConfig, SimCellConfig, WorkspaceConfig  # noqa: F401
from .data import (CollectConfig, ExplorationConfig, PushExplorationConfig,  # noqa: F401
                   RandomizationConfig, RecorderConfig)
from .model import (HardenConfig, LossWeights, ModelConfig, OptimConfig,  # noqa: F401
                    RefitConfig, TrainConfig)
from .planning import (PLANNER_NODE, CostWeights, EvalConfig, OptimizerConfig,  # noqa: F401
                       PlannerConfig, PlannerNodeConfig, PushCostConfig, SurpriseConfig,
                       WatchdogConfig)
from .robot import ControllerNames, DriverConfig, RobotConfig  # noqa: F401
from .schema import (ROS_PARAMETERS, ConfigError, doc_of, flatten, from_dict,  # noqa: F401
                     leaves, load, load_yaml, node_parameters, param, to_dict, unflatten)
from .sim import (SIM_NODE, CameraOffsetPerturbation, ColourPerturbation,  # noqa: F401
                  DistractorPerturbation, DropoutPerturbation, LightingPerturbation,
                  ObjectColourPerturbation, ObjectScalePerturbation,
                  Perturbations, PushObjectConfig, PushPerturbation, PushTaskConfig,
                  ReachTaskConfig, SimConfig, SimNodeParams,
                  SimulationConfig)
