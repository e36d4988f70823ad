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
"""Where the package's shared files (config/, description/, models/, launch/) live.

The same code runs from a source checkout, from `pip install -e .`, from a wheel and from a colcon
install, and each puts the shared files somewhere else. Everything that opens one of them asks here,
so there is one answer and one error message when they cannot be found.
"""

from __future__ import annotations

import hashlib
import os
import sys
from functools import lru_cache
from pathlib import Path

PACKAGE_NAME = "world_model_planner"
SHARE_ENV = "WMP_SHARE_DIR"
# The model each task plans with when none is named (relative to the share folder), and the
# commands that make it where it is not shipped.
TASK_MODELS = {"reach": "models/wmp_arm_reach", "push": "models/wmp_arm_push"}
# The Gazebo world of each task (`make worlds` writes push.sdf from config/sim.yaml's object).
TASK_WORLDS = {"reach": "description/worlds/reach.sdf", "push": "description/worlds/push.sdf"}
MODEL_RECIPES = {
    "push": "wmp collect --task push --episodes 2000 --out data/push --workers 2 && "
            "wmp train --task push --data data/push --out runs/push_jepa && "
            "wmp export --checkpoint runs/push_jepa --out models/wmp_arm_push",
}


class ShareDirNotFound(FileNotFoundError):
    """The package's data files (config/, description/, models/) are not installed anywhere."""


def _looks_like_share(path: Path) -> bool:
    return (path / "package.xml").is_file() and (path / "config").is_dir()


@lru_cache(maxsize=1)
def share_dir() -> Path:
    """The folder holding package.xml, config/, description/, models/ and launch/.

    Order: $WMP_SHARE_DIR; the source tree this module was imported from (checkout or editable
    install); the ament index (colcon install); <prefix>/share/world_model_planner (wheel).
    """
    override = os.environ.get(SHARE_ENV)
    if override:
        path = Path(override).expanduser().resolve()
        if not _looks_like_share(path):
            raise ShareDirNotFound(
                f"{SHARE_ENV}={override} does not hold package.xml and config/; point it at the "
                "package's share folder or unset it")
        return path
    source_root = Path(__file__).resolve().parents[2]
    if _looks_like_share(source_root):
        return source_root
    try:
        from ament_index_python.packages import get_package_share_directory

        path = Path(get_package_share_directory(PACKAGE_NAME))
        if _looks_like_share(path):
            return path
    except (ImportError, LookupError, ValueError):
        pass
    for prefix in (sys.prefix, sys.base_prefix):
        path = Path(prefix) / "share" / PACKAGE_NAME
        if _looks_like_share(path):
            return path
    raise ShareDirNotFound(
        f"cannot find the {PACKAGE_NAME} share folder (package.xml, config/, description/); "
        f"install the package (pip install . or colcon build) or set {SHARE_ENV}")


def share_path(*parts: str) -> Path:
    """A path below the share folder, e.g. share_path('config', 'planner.yaml')."""
    return share_dir().joinpath(*parts)


def resolve(path: str | os.PathLike[str], *, kind: str = "file") -> Path:
    """A user-given path: absolute, relative to the working folder, or relative to the share folder.

    Lets users write `config/robots/ur5e.yaml` or `models/wmp_arm_reach` from anywhere, while their
    own files (relative to where they stand) win.
    """
    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate.resolve()
    shared = share_dir() / candidate
    if shared.exists():
        return shared
    raise FileNotFoundError(
        f"{kind} '{path}' not found (looked in {Path.cwd()} and in {share_dir()})")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (datasets, models, URDFs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def task_model(task: str, given: str | None = None) -> str:
    """The model folder to plan `task` with: `given`, else the task's shipped model, which must
    exist (a FileNotFoundError names it and the commands that make it)."""
    if given:
        return given
    default = TASK_MODELS[task]
    if not (Path(default).is_dir() or (share_dir() / default).is_dir()):
        recipe = MODEL_RECIPES.get(task, "")
        raise FileNotFoundError(
            f"{default}: no {task} model here (looked in {Path.cwd()} and {share_dir()}); make "
            f"it with: {recipe}, or name one with --model" if recipe else
            f"{default}: no {task} model here; name one with --model")
    return default
