"""The pretraining recipe against the original training code's golden steps
(``fixtures/golden/train_step.npz``; bounds from ``fixtures/README.md``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.fixture_files import FIXTURES
from helpers.variants import ALL_VARIANTS
from hear_byols.encoders import AudioNTT2020
from hear_byols.pretraining.augment import MixupBank, TwoViews, crop_box, log_mixup_exp, normalize_batch, resize_crop
from hear_byols.pretraining.build import initial_weights
from hear_byols.pretraining.learner import ByolLearner
from hear_byols.pretraining.objectives.byol import ByolObjective
from hear_byols.pretraining.norm import RunningNorm
from hear_byols.pretraining.step import optimiser_step, trainable
from hear_byols.variants import variant_spec

GOLDEN = FIXTURES / "golden" / "train_step.npz"


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as data:
        return {key: data[key] for key in data.files}


def _states(golden: dict[str, np.ndarray], stage: str) -> dict[str, dict[str, torch.Tensor]]:
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in golden.items():
        if key.startswith(stage + "/"):
            _, part, name = key.split("/", 2)
            parts.setdefault(part, {})[name] = torch.from_numpy(value)
    return parts


def _golden_learner(golden: dict[str, np.ndarray]) -> ByolLearner:
    """The golden's shrunk recipe: AudioNTT d=64 (dropout 0), projection 32, hidden 128."""
    net = AudioNTT2020(n_mels=64, d=64)
    net.fc[2].p = 0.0
    learner = ByolLearner(net, 64, projection_size=32, hidden=128, tau=0.99).train()
    for part, state in _states(golden, "init").items():
        getattr(learner, part).load_state_dict(state, strict=True)
    return learner


def _max_rel(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float((ours - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def test_three_training_steps_match_the_original(golden: dict[str, np.ndarray]) -> None:
    learner = _golden_learner(golden)
    objective = ByolObjective(learner)
    optimiser = torch.optim.AdamW(trainable(objective), lr=3e-4)
    names = {id(p): n for n, p in learner.named_parameters()}
    largest_grad = max(float(np.abs(v).max()) for k, v in golden.items() if k.startswith("step0/grad/"))
    for step in range(3):
        view1, view2 = (torch.from_numpy(golden[f"step{step}/view{v}"]) for v in (1, 2))
        paired = normalize_batch(torch.cat([view1, view2]))
        if step == 0:
            np.testing.assert_allclose(paired.numpy(), golden["step0/post_norm"], rtol=0, atol=1e-6)
        grads: dict[str, torch.Tensor] = {}
        hook = (lambda _losses: grads.update({names[id(p)]: p.grad.clone() for p in trainable(objective)})) if step == 0 else None
        losses = optimiser_step(objective, learner, optimiser, [(paired[:4], paired[4:], None)], before_update=hook)
        assert abs(losses["loss"] - float(golden[f"step{step}/loss"])) <= 1e-5 * abs(float(golden[f"step{step}/loss"]))
        if step == 0:
            for key, ref in golden.items():
                if key.startswith("step0/grad/"):
                    name = key.removeprefix("step0/grad/")
                    ours = grads[name if name.startswith("online_") else "online_encoder." + name]
                    assert float((ours - torch.from_numpy(ref)).abs().max()) <= 1e-4 * largest_grad, name
    for part, state in _states(golden, "final").items():
        ours = getattr(learner, part).state_dict()
        for name, ref in state.items():
            assert float((ours[name].double() - ref.double()).abs().max()) <= 3e-3, f"{part}.{name}"


@pytest.mark.parametrize("index", [0, 1, 2])
def test_log_mixup_exp_matches_the_original(golden: dict[str, np.ndarray], index: int) -> None:
    x, z = torch.from_numpy(golden["mixup/x"]), torch.from_numpy(golden["mixup/z"])
    out = log_mixup_exp(x, z, float(golden[f"mixup/alpha{index}"]))
    np.testing.assert_allclose(out.numpy(), golden[f"mixup/out{index}"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_random_resize_crop_matches_the_original(golden: dict[str, np.ndarray], index: int) -> None:
    box = tuple(int(v) for v in golden[f"rrc/box{index}"])
    out = resize_crop(torch.from_numpy(golden["rrc/lms"]), box)
    np.testing.assert_allclose(out.numpy(), golden[f"rrc/out{index}"], rtol=0, atol=1e-5)


def test_crop_boxes_stay_on_the_canvas_and_span_the_scales() -> None:
    generator = torch.Generator().manual_seed(0)
    boxes = np.array([crop_box((64, 96), generator) for _ in range(2000)])
    i, j, h, w = boxes.T
    assert (i >= 0).all() and (i + h <= 64).all() and (j >= 0).all() and (j + w <= 144).all()
    assert h.min() == int(0.6 * 64) and h.max() == 64 and w.min() <= 58 and w.max() == 143


def test_mixup_bank_is_fifo_and_first_crop_passes_unmixed() -> None:
    bank, generator = MixupBank(capacity=3), torch.Generator().manual_seed(0)
    first = torch.zeros(1, 2, 2)
    assert torch.equal(bank(first, generator), first)
    for value in range(1, 5):
        bank(torch.full((1, 2, 2), float(value)), generator)
    assert bank.count == 3 and sorted(float(x[0, 0, 0]) for x in bank.bank) == [2.0, 3.0, 4.0]


def test_two_views_are_jointly_normalised_and_resume_exactly() -> None:
    batch = torch.randn(4, 1, 64, 96, generator=torch.Generator().manual_seed(1))
    views = TwoViews(torch.Generator().manual_seed(7), bank_size=8)
    views(batch)
    saved = views.state_dict()
    a = views(batch)
    restored = TwoViews(torch.Generator(), bank_size=8)
    restored.load_state_dict(saved)
    b = restored(batch)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    paired = torch.cat(a)
    assert abs(float(paired.mean())) < 1e-5 and abs(float(paired.std()) - 1) < 1e-4


#: The large encoders (10-20 s a step on a 2-core CI machine) and cvt's architectural twins (cvt_byols:
#: same encoder; cvt_byols_bs512: same stages, mean pooling, which cvt_byols_small trains fast) run as slow tests.
_SLOW_ARCHITECTURES = {"resnetish34", "clstm", "cvt_byols", "cvt_byols_bs512"}


@pytest.mark.parametrize("variant", [pytest.param(name, marks=pytest.mark.slow) if name in _SLOW_ARCHITECTURES else name
                                     for name in ALL_VARIANTS])
def test_every_served_architecture_trains(variant: str) -> None:
    """One recipe step on each variant's encoder, built from its definition (tiny MLPs)."""
    spec = variant_spec(variant)
    torch.manual_seed(0)
    learner = ByolLearner(spec.build_encoder().train(), spec.embedding_size, projection_size=16, hidden=32)
    objective = ByolObjective(learner)
    before = [p.detach().clone() for p in learner.online_encoder.net.parameters()]
    views = normalize_batch(torch.randn(4, 1, 64, 96))
    losses = optimiser_step(objective, learner, torch.optim.AdamW(trainable(objective), lr=3e-4),
                            [(views[:2], views[2:], None)])
    assert np.isfinite(losses["loss"])
    assert any(not torch.equal(b, p) for b, p in zip(before, learner.online_encoder.net.parameters()))


def test_init_loads_published_weights_into_online_and_target() -> None:
    spec = variant_spec("default512")
    net = spec.build_encoder().train()
    used = initial_weights(net, "default512", "default512")
    shipped = torch.load(used, weights_only=True)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in shipped.items())
    learner = ByolLearner(net, spec.embedding_size, projection_size=16, hidden=32)
    assert all(torch.equal(learner.target_encoder.net.state_dict()[k], v) for k, v in shipped.items())


def test_running_norm_follows_the_2021_updates_then_freezes() -> None:
    crops = [torch.full((1, 2, 2), v) + torch.tensor([[[0.0, 1.0], [2.0, 3.0]]]) for v in (0.0, 10.0, 20.0)]
    norm = RunningNorm(max_updates=2)
    first = norm(crops[0].unsqueeze(0))[0]
    assert abs(float(first.mean())) < 1e-6  # the first crop is normalised by its own statistics
    norm(crops[1].unsqueeze(0))
    assert float(norm.mean) == float(crops[1].mean())  # n = 1 at the second update: mu jumps to the new mean
    frozen = (norm.mean.clone(), norm.std.clone())
    norm(crops[2].unsqueeze(0))
    assert (norm.mean, norm.std) == frozen and norm.n == 2
