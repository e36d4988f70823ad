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
"""Headless camera rendering for the embedded simulator.

MuJoCo picks its OpenGL backend from MUJOCO_GL when it is first imported; on a server without a
display that must be EGL, so this module sets it before anything imports mujoco and turns the
cryptic failures of a missing GL stack into an error that says what to install.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")
if os.environ["MUJOCO_GL"] == "egl":
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

EGL_PACKAGES = "libegl1 libegl-mesa0 libgl1-mesa-dri"


def install_hint() -> str:
    """What to do about a rendering failure under the current MUJOCO_GL backend."""
    backend = os.environ.get("MUJOCO_GL", "")
    if backend == "osmesa":
        return ("MUJOCO_GL=osmesa needs OSMesa: 'sudo apt-get install -y libosmesa6', or use "
                f"MUJOCO_GL=egl with 'sudo apt-get install -y {EGL_PACKAGES}'")
    if backend in ("glfw", "glx"):
        return (f"MUJOCO_GL={backend} needs a display; for headless rendering set MUJOCO_GL=egl "
                f"and install 'sudo apt-get install -y {EGL_PACKAGES}'")
    return (f"headless rendering (MUJOCO_GL={backend or 'egl'}) needs EGL and Mesa: install them "
            f"with 'sudo apt-get install -y {EGL_PACKAGES}' (Debian/Ubuntu)")


class RenderingUnavailable(RuntimeError):
    """OpenGL (EGL) for headless rendering is missing or broken on this machine."""


def import_mujoco() -> Any:
    """The mujoco module, with a clear error when it or its GL backend cannot load."""
    try:
        import mujoco
    except ModuleNotFoundError as exc:
        if exc.name != "mujoco":
            raise RenderingUnavailable(f"{install_hint()} ({exc})") from exc
        raise ImportError("the embedded simulator needs MuJoCo: pip install "
                          "'world_model_planner[sim]' (or pip install mujoco)") from exc
    except Exception as exc:  # PyOpenGL fails in varied ways when a GL library is missing
        raise RenderingUnavailable(f"{install_hint()} ({type(exc).__name__}: {exc})") from exc
    return mujoco


class Camera:
    """Renders one MuJoCo camera to uint8 RGB arrays of a fixed size."""

    def __init__(self, model: Any, camera: str, width: int, height: int) -> None:
        mujoco = import_mujoco()
        self.camera = camera
        self.width, self.height = width, height
        try:
            self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as exc:  # mujoco raises plain Exception/RuntimeError types for GL failures
            raise RenderingUnavailable(f"{install_hint()} ({exc})") from exc

    def render(self, data: Any) -> Any:
        self._renderer.update_scene(data, camera=self.camera)
        return self._renderer.render()

    def renderer_name(self) -> str:
        """The OpenGL implementation drawing the frames, e.g. 'Mesa/X.org: llvmpipe (...)'.

        Datasets record it because frames differ by renderer: the same seeds drawn by Mesa's
        llvmpipe and by an NVIDIA driver give different pixels, so different dataset digests."""
        context = getattr(self._renderer, "_gl_context", None)
        try:
            from OpenGL import GL

            if context is not None:
                context.make_current()
            vendor, name, version = (GL.glGetString(k) for k in (
                GL.GL_VENDOR, GL.GL_RENDERER, GL.GL_VERSION))
        except Exception:  # a renderer that draws but cannot say what it is is not an error
            return "unknown"
        if not name:
            return "unknown"
        return f"{vendor.decode()}: {name.decode()}; OpenGL {version.decode()}"

    def close(self) -> None:
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            renderer.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
