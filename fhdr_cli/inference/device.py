"""Which torch device and how many CPU threads to use, and how much memory there is and was used."""

from __future__ import annotations

import os
import resource

import torch

from ..errors import UsageError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without it is a usage error."""
    if name not in DEVICES:
        raise UsageError(f"unknown device '{name}'; choose one of {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (this torch build or machine has none)")
    return torch.device(name)


def set_threads(threads: int | None) -> None:
    """CPU intra-op threads; None keeps torch's default (one per core)."""
    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)


def available_memory() -> int:
    """Bytes of RAM the system can give us now without swapping (Linux MemAvailable; else total RAM)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new measurement for `peak_memory_mib`."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        try:  # Linux: "5" resets the VmHWM high-water mark of this process
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass  # not Linux: the figure is then the process's lifetime peak


def peak_memory_mib(device: torch.device) -> float:
    """Peak GPU allocation, or the process's peak resident memory (VmHWM) on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
