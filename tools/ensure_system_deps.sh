#!/usr/bin/env bash
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

# Makes sure the machine has what pip cannot install: Python's venv module and headless OpenGL
# (EGL + Mesa) for MuJoCo's camera rendering. Installs them with apt-get when running as root on
# Debian/Ubuntu; otherwise prints the exact command to run and fails.
set -euo pipefail

PYTHON=${PYTHON:-python3}
EGL_PACKAGES="libegl1 libegl-mesa0 libgl1-mesa-dri"
missing=()

if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("python3-venv")
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1' \
   || ! ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa.so.0'; then
  missing+=($EGL_PACKAGES)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them with:  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
