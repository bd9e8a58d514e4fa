"""Why an embedding is NaN or Inf: the audio, the weights, or the encoder's precision, told apart.

Each cause has another fix (scale the audio; reload the weights; another ``precision``), so the
error names the one found. The diagnosis runs only once an output is not finite: the normal
path pays one sum per clip.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.inference.checkpoint import describe_entries, non_finite_entries
from hear_byols.errors import HearByolsError, InvalidAudioError, ModelNumericsError
from hear_byols.inference.model import ByolsModel
from hear_byols.inference.precision import AUTOCAST_DTYPES
from hear_byols.inference.runtime import inference


def require_finite(embeddings: Tensor, audio: Any, model: ByolsModel) -> Tensor:
    """``embeddings`` ``(n_sounds, ...)`` if all finite, else the error naming the clips and the cause."""
    # a sum per clip is not finite when any value is NaN or Inf (they propagate); unlike
    # isfinite() on the whole tensor it allocates nothing of the embeddings' size (measured
    # +110 MB peak for a 10-minute clip's timestamps). Finite values only overflow it beyond
    # ~1e31, which is reported as non-finite too.
    finite = torch.isfinite(embeddings.flatten(1).sum(dim=1))
    if bool(finite.all()):
        return embeddings
    raise non_finite_cause(model, audio, (~finite).nonzero().flatten().tolist())


def non_finite_cause(model: ByolsModel, audio: Any, bad: list[int]) -> HearByolsError:
    """The error for clips ``bad`` of ``audio``, whose embeddings are not finite."""
    what = f"the embeddings of clip(s) {bad} are not finite"
    weights = non_finite_entries(model.encoder.state_dict())
    if weights:
        return ModelNumericsError(
            f"{what} because the model's weights are not: {describe_entries(weights)} (the audio is not the "
            "cause). load_model refuses such files, so they changed after loading (a training step, an in-place "
            "edit): load the weights again"
        )
    overflowing = [i for i in bad if not _log_mel_is_finite(model, torch.as_tensor(audio[i]))]
    if overflowing:
        peak = max(float(torch.as_tensor(audio[i]).abs().max()) for i in overflowing)
        spread = sorted(set(bad) - set(overflowing))
        return InvalidAudioError(
            f"the embeddings of clip(s) {overflowing} are not finite: their peak amplitude {peak:.3g} overflows the "
            "float32 spectrogram; HEAR audio is float32 in [-1, 1]: scale the clips (e.g. audio / audio.abs().max())"
            + (f"; clip(s) {spread} only through the batch's statistics (normalization='reference')" if spread else "")
        )
    dtype = AUTOCAST_DTYPES[model.precision]
    if dtype is not None:
        fix = "precision='bf16' (float32's range) or 'float32'" if dtype == torch.float16 else "precision='float32'"
        return ModelNumericsError(
            f"{what}: the encoder overflowed at precision={model.precision!r} (largest value "
            f"{torch.finfo(dtype).max:.6g}) on finite log-mels (the audio is not the cause): load the model with {fix}"
        )
    largest = max(float(value.abs().max()) for value in model.encoder.state_dict().values() if value.is_floating_point())
    return ModelNumericsError(
        f"{what}: the encoder overflowed float32 on finite log-mels (the audio is not the cause); its weights are "
        f"finite but extreme (largest |weight| {largest:.3g}), as after a diverging training: use another checkpoint"
    )


def _log_mel_is_finite(model: ByolsModel, clip: Tensor) -> bool:
    """Whether the frontend's float32 log-mel of one 1-D clip is finite (audio overflow shows here)."""
    with inference(model) as device:
        return bool(torch.isfinite(model.frontend(clip.to(device)[None])).all())
