"""Process-level settings for long simulations, applied by entry points (never at import), except the CPU kernel
pin, which the package applies when it is imported (it has to precede torch's first convolution)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os

ONEDNN_ISA_SETTING, ONEDNN_ISA = "ONEDNN_MAX_CPU_ISA", "AVX2"
CAP_SET_AFTER_TORCH = "snn-robust, after torch was loaded"  # the cap may be late: oneDNN may have started uncapped
_cap_set_by: list[str] = []  # who set the cap, for records: the environment, or this package before/after torch


def pin_cpu_kernels() -> None:
    """Cap oneDNN (torch's CPU convolutions and linear layers) at AVX2 kernels unless the environment says otherwise.

    oneDNN picks kernels by the CPU's instruction set, and its AVX-512 ones sum in another order: on an AVX-512 CPU
    the same seeded training gave other weights (SST-2's tailored TextCNN differed from its first epoch's loss, in
    the 8th digit) than on the AVX2 machines that trained the committed records. Capped, both train to one sha256.
    oneDNN reads the variable once, at its first primitive, so this runs when the package is imported; a process
    that ran a convolution before importing it keeps its uncapped kernels (its records say torch came first)."""
    import sys

    if _cap_set_by:
        return
    if ONEDNN_ISA_SETTING in os.environ:
        _cap_set_by.append("environment")
    else:
        os.environ[ONEDNN_ISA_SETTING] = ONEDNN_ISA
        _cap_set_by.append(CAP_SET_AFTER_TORCH if "torch" in sys.modules else "snn-robust")


def cpu_kernels() -> dict:
    """What decided this process's CPU arithmetic, for records: torch's vector kernels and oneDNN's cap."""
    import sys

    torch = sys.modules.get("torch")  # records are written after the work: torch is loaded if it did any
    return {"aten": torch.backends.cpu.get_cpu_capability() if torch else None,
            "onednn_max_isa": os.environ.get(ONEDNN_ISA_SETTING, "uncapped"),
            "onednn_cap_set_by": _cap_set_by[0] if _cap_set_by else None}


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def keep_freed_memory() -> bool:
    """Let glibc reuse large freed blocks instead of returning them to the OS.

    Multi-step simulation allocates tensors of hundreds of MB per call; glibc serves each from a fresh
    mmap whose pages fault in on first touch, which measured 3-5x slower than the arithmetic itself
    (benchmarks/snn_simulation.py). Raising the mmap and trim thresholds keeps those pages mapped.
    Returns False where glibc is not the allocator.
    """
    try:
        libc = _libc()
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 31))
    except (OSError, AttributeError, TypeError):
        return False


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux ``PR_SET_PDEATHSIG``), and exit now if
    ``parent`` is already gone. Grid workers call it, so a driver killed by ``kill -9`` leaves no orphans.
    Returns False where the signal is unavailable (non-Linux)."""
    import os
    import signal

    try:
        armed = _libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError, TypeError):
        armed = False
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    return armed


def duration(seconds: float) -> str:
    """``95`` -> ``1 min 35 s``; hours past an hour."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class LogProgress:
    """Progress a person can read in a log: when the stream is not a terminal (where tqdm's bar is off), one line
    at most every ``every`` seconds, and at the end, with the count done, the rate and the time left."""

    def __init__(self, what: str, total: int, done: int = 0, every: float = 30.0, stream=None, clock=None):
        import sys
        import time

        self.what, self.total, self.every = what, total, every
        self.stream = stream or sys.stderr
        self.clock = clock or time.monotonic
        self.began, self.first, self.last = self.clock(), done, None

    def update(self, done: int, note: str = "") -> None:
        if getattr(self.stream, "isatty", lambda: False)():
            return
        now = self.clock()
        if self.last is not None and now - self.last < self.every and done < self.total:
            return
        self.last = now
        rate = (done - self.first) / (now - self.began) if now > self.began and done > self.first else 0.0
        left = f", about {duration((self.total - done) / rate)} left" if rate and done < self.total else ""
        pace = f", {60 * rate:.1f}/min" if rate else ""
        print(f"{self.what}: {done}/{self.total}{pace}{left}{'; ' + note if note else ''}", file=self.stream,
              flush=True)


# --- the compute device -------------------------------------------------------------------------------------------

DEVICE_SETTING = "SNN_ROBUST_DEVICE"


def compute_device(setting: str | None = None):
    """The torch device models train, evaluate and answer attack queries on: ``setting`` (default:
    ``$SNN_ROBUST_DEVICE``, else ``auto``): ``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda`` or
    ``cuda:N``. Bad or unavailable settings raise a one-line :class:`~robustbench_snn.errors.UserError`."""
    import os

    import torch

    from robustbench_snn.errors import UserError

    name = (setting or os.environ.get(DEVICE_SETTING) or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r} (from --device or ${DEVICE_SETTING}); use auto, cpu, cuda or "
                        "cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {name!r} was asked for, but this torch build sees no CUDA GPU; use "
                            "--device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA "
                            "device(s), cuda:0 onwards")
        # cuBLAS is deterministic only with a fixed workspace (training runs with deterministic algorithms)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return device


def device_kind(device) -> str:
    """What a device contributes to an identity: ``cpu``, or ``cuda (<GPU name>)``, since floats differ across
    devices and across GPU models (two cards of one model compute the same)."""
    import torch

    if device.type != "cuda":
        return device.type
    return f"cuda ({torch.cuda.get_device_name(device)})"


def module_device(module):
    """The device a module's parameters (or, without any, its buffers) live on; the CPU for a module with neither."""
    import torch

    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")
