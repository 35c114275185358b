"""Device choice, mixed precision, seeding, progress bars and cache folders shared by every module."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import random
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterable, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

T = TypeVar("T")


def pick_device(preference: str = "auto") -> torch.device:
    """Return the device to run on: ``auto`` picks CUDA, then MPS, then CPU."""
    if preference != "auto":
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


AMP_CHOICES = ("auto", True, False)
# oneDNN instruction-set caps (ONEDNN_MAX_CPU_ISA) below AVX512_CORE_BF16: bf16 is emulated under them.
ISAS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI")


def cpu_has_native_bf16() -> bool:
    """True when this x86 CPU computes bf16 in hardware (AVX512-BF16 or AMX-BF16 in /proc/cpuinfo) and
    nothing caps torch below it: ``ATEN_CPU_CAPABILITY`` under AVX512 or ``ONEDNN_MAX_CPU_ISA`` under
    AVX512_CORE_BF16 stand for a CPU without it, so bf16 stays off there as it would on that CPU.
    Other architectures answer False: bf16 was measured to pay only on x86 (bench/amp.py).
    ``NBUTILS_TEST_FLOAT32=1`` answers False too, changing no kernel: the test suite's run as on a CPU
    without native bf16 (tests/conftest.py). Read here, the one place the choice is made, it reaches
    every process started from one that has it: the runner's notebook kernels, a local Ray cluster's workers."""
    if os.environ.get("NBUTILS_TEST_FLOAT32", "") not in ("", "0"):
        return False
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if torch.backends.cpu.get_cpu_capability() not in ("AVX512", "AVX512_BF16", "AVX512_FP16", "AMX"):
        return False
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA", "")).upper()
    if isa in ISAS_WITHOUT_BF16:
        return False
    return not {"avx512_bf16", "amx_bf16"}.isdisjoint(cpu_flags())


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where it cannot be read), read once:
    every training and every encoding asks which precision to use."""
    try:
        with open("/proc/cpuinfo") as f:
            return frozenset(next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), []))
    except OSError:
        return frozenset()


def autocast_dtype(device: torch.device, amp: bool | str = "auto") -> torch.dtype | None:
    """The reduced precision that training and inference autocast to on ``device``, None for float32.

    amp: ``"auto"`` = float16 on CUDA (with a gradient scaler, see :func:`grad_scaler`), bfloat16 on
    a CPU with native bf16 (:func:`cpu_has_native_bf16`: about twice the small CNN's training speed,
    bench/amp.py), float32 elsewhere; ``True`` forces float16 on CUDA and bfloat16 on a CPU; ``False``
    forces float32. Other devices (MPS) always train in float32."""
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp={amp!r}: valid choices are 'auto', true (reduced precision) and false (float32)")
    if amp is False:
        return None
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and (amp is True or cpu_has_native_bf16()):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype`` on ``device`` (see :func:`autocast_dtype`); a no-op for None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only for float16 (bfloat16 keeps float32's exponent range)."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


THREADS_VARIABLE = "NBUTILS_THREADS"


def training_threads(device: torch.device) -> int | None:
    """The torch threads one training uses: ``NBUTILS_THREADS`` when set, else 1 on a CPU and None
    (torch's own choice) elsewhere. One is the default because the thread count changes trained
    numbers (summation order): on params/ci.yaml the runner at 2 threads and Ray's one-thread tasks
    differed in 57 of 78 metrics, at one thread in none. So a run gives the same numbers on either
    executor and when resumed on the other; two trainings side by side (Ray's workers) use both cores."""
    value = os.environ.get(THREADS_VARIABLE, "")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{THREADS_VARIABLE}={value!r}: give a whole number of threads >= 1, or unset it")
        return int(value)
    return 1 if device.type == "cpu" else None


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch threads (None: unchanged), then restore the previous count."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def quiet() -> bool:
    """True when progress bars should stay silent: in CI, or with NBUTILS_QUIET=1, which the runner
    (nbutils.run) sets for the notebooks it executes so their outputs keep no progress bars."""
    return bool(os.environ.get("CI")) or os.environ.get("NBUTILS_QUIET", "") not in ("", "0")


def progress(iterable: Iterable[T], **kwargs) -> Iterable[T]:
    """A tqdm progress bar that is silent in CI."""
    return tqdm(iterable, disable=quiet(), leave=False, **kwargs)


def cache_dir(kind: str) -> Path:
    """Folder for cached artefacts of one kind (``$NBUTILS_CACHE`` or ``~/.cache/nbutils``)."""
    root = Path(os.environ.get("NBUTILS_CACHE", Path.home() / ".cache" / "nbutils"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def images_hash(images: torch.Tensor) -> str:
    """SHA-1 of a uint8 tensor's shape and bytes (about 600 MB/s)."""
    digest = hashlib.sha1(str(tuple(images.shape)).encode())
    digest.update(memoryview(images.detach().cpu().contiguous().numpy()).cast("B"))
    return digest.hexdigest()


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, C, H, W) in [0, 255] -> float32 in [0, 1] on the same device."""
    return images.float().div_(255.0)


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """Image batches (B, C, H, W) in channels-last memory, which convolutions run faster on (CPU
    and CUDA); other tensors (embeddings (B, D)) unchanged. Values are the same."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images (N, C, H, W) in [0, 1] -> uint8 in [0, 255] (rounded, clipped); inverse of to_float."""
    return images.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` by calling ``write`` on a binary file that is a temporary of a unique name in
    the same folder, then renaming it: readers never see half a file, a crash leaves none behind,
    and processes writing the same path never take each other's temporary (the last one wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_uint8_images(images: Any, name: str = "images") -> None:
    """TypeError unless ``images`` is a uint8 tensor (N, C, H, W), as every module takes images."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        raise TypeError(f"{name} must be a uint8 torch tensor of shape (N, C, H, W), got "
                        f"{type(images).__name__} {getattr(images, 'dtype', '')} "
                        f"{tuple(getattr(images, 'shape', ()))}")
