import copy

import numpy as np
import pytest
import torch

from nbutils.data.imagesets import TrainingSet
from nbutils.data.tasks import make_task
from nbutils.methods.losses import make_loss
from nbutils.methods.models import make_model
from nbutils.methods.train import TrainConfig, augment_batch, fit, predict_logits, predict_scores


@pytest.fixture(scope="module")
def digits():
    return make_task("digits", {"dataset": "digits"}, seed=0)


def train_digits(task, cfg, **kwargs):
    torch.manual_seed(cfg.seed)
    model = make_model("cnn", 10, in_channels=1, image_size=8, width=8)
    data = TrainingSet(task.train.images, task.train.labels)
    history = fit(model, data, make_loss("ce", task.train.class_counts()), cfg, val=task.val, **kwargs)
    return model, history


@pytest.fixture(scope="module")
def one_epoch(digits):
    """(model, history) after one epoch at batch 64, trained once for the tests that only read it."""
    return train_digits(digits, TrainConfig(epochs=1, batch_size=64))


@pytest.fixture(scope="module")
def three_epochs(digits):
    """(model, history) after three epochs at lr 0.05, trained once for the tests that only read it."""
    return train_digits(digits, TrainConfig(epochs=3, batch_size=64, lr=0.05))


def state_equal(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_loss_falls_and_the_model_learns_digits(digits, three_epochs):
    # measured (tests/margins.py unit) under plain bf16, ATEN_CPU_CAPABILITY=default, OMP_NUM_THREADS=1
    # and NBUTILS_TEST_FLOAT32=1: loss ratio 0.28-0.29, val macro AP 0.948-0.964, test accuracy 0.88-0.89
    model, history = three_epochs
    assert list(history.epoch) == [0, 1, 2]
    assert history.train_loss.iloc[-1] < 0.6 * history.train_loss.iloc[0]
    assert history.val_macro_ap.iloc[-1] > 0.85
    scores = predict_scores(model, digits.test.images)
    assert (scores.argmax(1) == digits.test.labels).mean() > 0.8
    assert {"val_ba", "val_ap/0", "val_ap/9", "lr"} <= set(history.columns)


def test_fit_puts_image_models_in_channels_last_memory_without_changing_their_outputs(digits, one_epoch):
    model, _ = one_epoch
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    default_layout = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
    assert not all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in default_layout.modules() if isinstance(m, torch.nn.Conv2d))
    torch.testing.assert_close(predict_logits(model, digits.test.images),
                               predict_logits(default_layout, digits.test.images), rtol=1e-4, atol=1e-4)


def test_channels_last_can_be_turned_off(digits):
    model, _ = train_digits(digits, TrainConfig(epochs=1, batch_size=64, channels_last=False))
    assert all(m.weight.is_contiguous() for m in model.modules() if isinstance(m, torch.nn.Conv2d))


def test_compiled_training_steps_train_the_same_model(digits, one_epoch):
    eager, eager_history = one_epoch
    compiled, history = train_digits(digits, TrainConfig(epochs=1, batch_size=64, compile="aot_eager"))
    assert history.train_loss.iloc[0] == pytest.approx(eager_history.train_loss.iloc[0], rel=1e-3)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # the module itself, not a wrapper
    with pytest.raises(ValueError, match="unknown torch.compile backend 'fast'; valid: '' .*inductor"):
        TrainConfig(compile="fast")


def test_same_seed_same_result_other_seed_other_result(digits, one_epoch):
    a, ha = one_epoch
    b, hb = train_digits(digits, TrainConfig(epochs=1, batch_size=64))
    c, _ = train_digits(digits, TrainConfig(epochs=1, batch_size=64, seed=1))
    assert state_equal(a, b) and ha.equals(hb)
    assert not state_equal(a, c)


class Interrupt:
    def __init__(self, at):
        self.at = at

    def on_epoch_start(self, state):
        if state.epoch == self.at:
            raise KeyboardInterrupt


def test_a_resumed_run_ends_where_an_uninterrupted_run_ends(digits, three_epochs, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05)  # three_epochs' settings
    whole, whole_history = three_epochs
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        train_digits(digits, cfg, checkpoint=checkpoint, callbacks=[Interrupt(2)])
    assert checkpoint.is_file()
    resumed, resumed_history = train_digits(digits, cfg, checkpoint=checkpoint)
    assert state_equal(whole, resumed)
    np.testing.assert_allclose(whole_history.train_loss, resumed_history.train_loss)


def test_a_checkpoint_with_other_settings_is_not_resumed(digits, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    train_digits(digits, TrainConfig(epochs=1, batch_size=64), checkpoint=checkpoint)
    with pytest.raises(ValueError, match="other settings"):
        train_digits(digits, TrainConfig(epochs=1, batch_size=64, lr=0.5), checkpoint=checkpoint)


class NaNLoss(torch.nn.Module):
    def forward(self, logits, targets):
        return logits.sum() * float("nan")


def test_a_nan_loss_stops_with_a_clear_error(digits):
    model = make_model("cnn", 10, in_channels=1, image_size=8, width=8)
    with pytest.raises(FloatingPointError, match="loss became nan in epoch 0.*lower the learning rate"):
        fit(model, TrainingSet(digits.train.images, digits.train.labels), NaNLoss(), TrainConfig(epochs=1))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'; valid: sgd, adam"):
        TrainConfig(optimizer="adamw")
    with pytest.raises(ValueError, match="batch_size >= 2"):
        TrainConfig(batch_size=1)


def test_augmentation_is_identity_when_off_and_deterministic_when_on():
    x = torch.rand(6, 1, 8, 8)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(augment_batch(x, g(), hflip=False, max_rotation=0), x)
    a, b = augment_batch(x, g()), augment_batch(x, g())
    assert torch.equal(a, b) and a.shape == x.shape and not torch.equal(a, x)


def test_flip_only_mirrors_images():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(64, 1, 1, 1)
    y = augment_batch(x, torch.Generator().manual_seed(0), hflip=True, max_rotation=0)
    flipped = (y == x.flip(-1)).flatten(1).all(1)
    assert ((y == x).flatten(1).all(1) | flipped).all() and 10 < int(flipped.sum()) < 54


def test_resampled_indices_and_sampler_decide_what_an_epoch_sees(digits):
    seen = []

    class Record(torch.nn.Module):
        needs_indices = True

        def forward(self, logits, targets, indices):
            seen.append(indices.clone())
            return torch.nn.functional.cross_entropy(logits, targets)

    model = make_model("cnn", 10, in_channels=1, image_size=8, width=8)
    indices = np.repeat(np.arange(10), 3)
    fit(model, TrainingSet(digits.train.images, digits.train.labels, indices=indices), Record(),
        TrainConfig(epochs=1, batch_size=8))
    assert sorted(torch.cat(seen).tolist()) == sorted(indices.tolist())


def test_embeddings_train_an_mlp_without_augmentation():
    x = torch.randn(200, 5)
    y = (x[:, 0] > 0).long().numpy()
    model = make_model("mlp", 2, in_channels=5)
    history = fit(model, TrainingSet(x, y), make_loss("ce", np.bincount(y)),
                  TrainConfig(epochs=5, batch_size=32, optimizer="adam", lr=1e-2))
    assert history.train_loss.iloc[-1] < history.train_loss.iloc[0]


def test_impossible_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="warmup_epochs=5 with epochs=3.*never reached"):
        TrainConfig(epochs=3, warmup_epochs=5)
    with pytest.raises(ValueError, match="warmup_epochs=3 with epochs=3"):
        TrainConfig(epochs=3, warmup_epochs=3)
    with pytest.raises(ValueError, match=r"lr=-0.1 \(must be a finite number > 0\); momentum=1.5"):
        TrainConfig(lr=-0.1, momentum=1.5)
    with pytest.raises(ValueError, match="weight_decay=-1"):
        TrainConfig(weight_decay=-1)
    assert TrainConfig(epochs=3, warmup_epochs=2).warmup_epochs == 2


def test_concurrent_checkpoint_saves_never_collide(tmp_path):
    """Two writers on one run folder (two runs on one --run-id): each save completes and the file
    always loads. With one fixed temporary name, a writer's rename found its file already moved."""
    from concurrent.futures import ThreadPoolExecutor

    from nbutils.methods.train import save_checkpoint
    path = tmp_path / "checkpoint.pt"

    def writer(k):
        for i in range(60):
            save_checkpoint(path, {"writer": k, "i": i, "weights": torch.full((2000,), float(i))})
        return k

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(writer, range(4))) == [0, 1, 2, 3]
    payload = torch.load(path, weights_only=False)
    assert payload["i"] == 59 and torch.equal(payload["weights"], torch.full((2000,), 59.0))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def conv_output_dtypes(model: torch.nn.Module) -> list[torch.dtype]:
    """Record the dtype of every Conv2d output while the model runs."""
    seen: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("amp, expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_amp_true_trains_in_bf16_on_a_cpu_and_false_in_fp32(digits, amp, expected):
    model = make_model("cnn", 10, in_channels=1, image_size=8, width=4)
    seen = conv_output_dtypes(model)
    history = fit(model, TrainingSet(digits.train.images, digits.train.labels), make_loss("ce", digits.train.class_counts()),
                  TrainConfig(epochs=1, batch_size=64, amp=amp, device="cpu"))
    assert seen and set(seen) == {expected}
    assert np.isfinite(history["train_loss"]).all()
    # scores stay float32 on a CPU whatever the training precision
    assert predict_logits(model, digits.test.images[:5]).dtype == torch.float32


def test_amp_auto_follows_the_cpus_native_bf16(monkeypatch):
    from nbutils.core import runtime

    cpu = torch.device("cpu")
    for native in (True, False):
        monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
        assert runtime.autocast_dtype(cpu, "auto") == (torch.bfloat16 if native else None)
    assert runtime.autocast_dtype(torch.device("cuda"), "auto") == torch.float16
    assert runtime.autocast_dtype(torch.device("cuda"), False) is None
    assert runtime.autocast_dtype(torch.device("mps"), True) is None
    assert runtime.grad_scaler(cpu, torch.bfloat16).is_enabled() is False
    with pytest.raises(ValueError, match="valid choices"):
        runtime.autocast_dtype(cpu, "bf16")
    with pytest.raises(ValueError, match="amp='bf16'"):
        TrainConfig(amp="bf16")


def test_a_cap_below_bf16_reads_as_a_cpu_without_native_bf16(monkeypatch):
    from nbutils.core import runtime

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert runtime.cpu_has_native_bf16() is False
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    assert runtime.cpu_has_native_bf16() is False
