"""How an entry point runs: on the model's device, at the model's precision, without autograd.

Why each part:

* the model is never moved by a call (NumPy or CPU input would drag a CUDA model back to the
  CPU, two threads using one model on two GPUs would race, and clstm would re-flatten its LSTM
  weights every call): the audio goes to the model's device, results come back on the audio's;
* the work runs in ``inference_mode`` (under ``no_grad`` the exact timestamp path took ~7%
  more CPU time, for autograd's view and version bookkeeping), but the results are written
  into ordinary tensors (``ordinary_empty``), which callers can edit in place or train a
  probe on, without a copy at the end;
* the caller's autocast is switched off (the frontend must stay float32) and the kernels run
  at the model's ``precision`` (``hear_byols.inference.precision``; fp16 on a CPU warns that it is slow).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import Tensor, nn

from hear_byols.errors import InvalidModelError
from hear_byols.inference.model import ByolsModel
from hear_byols.inference.precision import float32_kernels, warn_if_slow_on_cpu


def model_device(model: nn.Module) -> torch.device:
    """The one device holding the model's float32 parameters and buffers.

    A model cast with ``.half()`` / ``.double()`` or split over devices is refused with the fix.
    """
    tensors = [*model.parameters(), *model.buffers()]
    wrong = sorted({str(t.dtype) for t in tensors if t.is_floating_point() and t.dtype != torch.float32})
    if wrong:
        raise InvalidModelError(
            f"the model's weights are {', '.join(wrong)}, not float32: hear_byols computes in float32 "
            "(the frontend overflows in fp16). Call model.float(), and for speed load it with "
            "load_model(..., precision='bf16' | 'fp16' | 'tf32'), which casts inside the encoder only"
        )
    devices = {t.device for t in tensors}
    if len(devices) != 1:
        raise InvalidModelError(
            f"the model is spread over devices {sorted(map(str, devices))}: move it to one with model.to(device)"
        )
    return devices.pop()


@contextmanager
def inference(model: ByolsModel) -> Iterator[torch.device]:
    """Run an entry point's computation; yields the device to compute on (the model's)."""
    device = model_device(model)
    warn_if_slow_on_cpu(model.precision, device)
    with torch.inference_mode(), torch.autocast(device.type, enabled=False), float32_kernels(model.precision):
        yield device


def ordinary_empty(*shape: int, device: torch.device) -> Tensor:
    """An uninitialised float32 tensor that is not an inference tensor, even when made inside
    ``inference``: the entry points fill their results into it in place."""
    with torch.inference_mode(False):
        return torch.empty(*shape, device=device)
