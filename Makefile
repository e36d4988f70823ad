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

# make demo   the embedded MuJoCo arm under the planner (installs what it needs first)
# make test   the test suite (likewise)
# Both create .venv with the package installed in editable mode; nothing else is touched except
# the EGL/venv system packages, installed through apt when running as root.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXTRAS ?= sim,ros,train,cpu,dev
export MUJOCO_GL ?= egl
export PYTHONUNBUFFERED := 1
# The demo's nodes talk DDS on this machine only (set your own to join a wider ROS graph).
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST

.PHONY: demo test system-deps venv urdf worlds lint clean

demo: system-deps $(STAMP)
	$(VENV)/bin/wmp demo

test: system-deps $(STAMP)
	$(PY) -m pytest

system-deps:
	@PYTHON=$(PYTHON) bash tools/ensure_system_deps.sh

venv: system-deps $(STAMP)

# torch is installed first and pinned: a CPU build is what CI and most developer machines have,
# and installing it before the package stops pip from pulling a newer (CUDA) build.
$(STAMP): setup.py setup.cfg package.xml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

# Regenerate the push task's Gazebo world after editing the object in config/sim.yaml (a test
# checks they agree).
worlds: $(STAMP)
	$(PY) -m world_model_planner.core.sim.gazebo_world

# Regenerate the pre-expanded URDF after editing the xacro (a test checks they agree).
urdf: $(STAMP)
	$(VENV)/bin/xacro description/wmp_arm.urdf.xacro > description/wmp_arm.urdf

lint: $(STAMP)
	$(VENV)/bin/flake8 world_model_planner test bench launch tools

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo_output
