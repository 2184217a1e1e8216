"""Device, dtype and attention implementation for the model, each with the reason it was chosen.

Owns only the choice; model.py applies it. CUDA: float16, and flash_attention_2
when the flash_attn package imports, otherwise sdpa. CPU: float32 with sdpa.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceChoice:
    device: str
    dtype: torch.dtype
    attn_implementation: str
    reason: str

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")


def _flash_attn_importable() -> bool:
    if importlib.util.find_spec("flash_attn") is None:
        return False
    try:
        import flash_attn  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken build is the same as none
        return False
    return True


def choose_device(requested: str) -> DeviceChoice:
    """Resolve DEVICE ("auto", "cpu", "cuda", "cuda:N") to what will really be used."""
    requested = (requested or "auto").strip()
    if requested == "auto":
        requested = "cuda:0" if torch.cuda.is_available() else "cpu"
        why = "DEVICE=auto: " + ("CUDA is available" if requested != "cpu" else "no CUDA device")
    else:
        why = f"DEVICE={requested}"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"{why} but torch sees no CUDA device")
        if _flash_attn_importable():
            return DeviceChoice(requested, torch.float16, "flash_attention_2",
                                f"{why}; float16; flash_attn imports, so flash_attention_2")
        return DeviceChoice(requested, torch.float16, "sdpa",
                            f"{why}; float16; flash_attn does not import, so sdpa")
    if requested != "cpu":
        raise RuntimeError(f"DEVICE={requested} is not cpu, cuda or cuda:N")
    return DeviceChoice("cpu", torch.float32, "sdpa", f"{why}; float32 on CPU with sdpa")
