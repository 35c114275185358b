"""train.tensorboard: fit writes every epoch's history row (loss, learning rate, validation AP per
class) as TensorBoard scalars, beside the checkpoint when it has one; off by default."""
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_train import digits, train_digits  # noqa: F401  (digits is a fixture)

from nbutils.methods import train
from nbutils.methods.train import TrainConfig

EPOCHS = 2


def scalars(log_dir):
    """{tag: [(step, value), ...]} of every event file in log_dir."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0}).Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_is_off_by_default_and_writes_nothing(digits, tmp_path):
    assert TrainConfig().tensorboard is False
    train_digits(digits, TrainConfig(epochs=1, batch_size=64), checkpoint=tmp_path / "checkpoint.pt")
    assert not (tmp_path / "tensorboard").exists()


def test_every_epoch_logs_loss_lr_and_validation_ap_per_class_beside_the_checkpoint(digits, tmp_path):
    _, history = train_digits(digits, TrainConfig(epochs=EPOCHS, batch_size=64, tensorboard=True),
                           checkpoint=tmp_path / "checkpoint.pt")
    logged = scalars(tmp_path / "tensorboard")
    classes = [str(c) for c in digits.val.classes]
    expected = {"train_loss", "lr", "val_ba", "val_macro_ap"} | {f"val_ap/{c}" for c in classes}
    assert expected <= set(logged)
    for tag in expected:
        assert [step for step, _ in logged[tag]] == list(range(EPOCHS)), tag
        np.testing.assert_allclose([value for _, value in logged[tag]], history[tag], rtol=1e-6)


def test_a_resumed_training_logs_each_epoch_once(digits, tmp_path):
    class Interrupt:
        def on_epoch_start(self, state):
            if state.epoch == 1:
                raise KeyboardInterrupt

    cfg = TrainConfig(epochs=EPOCHS, batch_size=64, tensorboard=True)
    with pytest.raises(KeyboardInterrupt):
        train_digits(digits, cfg, checkpoint=tmp_path / "checkpoint.pt", callbacks=[Interrupt()])
    assert [step for step, _ in scalars(tmp_path / "tensorboard")["train_loss"]] == [0]
    train_digits(digits, cfg, checkpoint=tmp_path / "checkpoint.pt")
    assert [step for step, _ in scalars(tmp_path / "tensorboard")["train_loss"]] == list(range(EPOCHS))


def test_a_checkpoint_resumes_when_only_tensorboard_changed(digits, tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    train_digits(digits, TrainConfig(epochs=1, batch_size=64), checkpoint=checkpoint)
    _, history = train_digits(digits, TrainConfig(epochs=1, batch_size=64, tensorboard=True), checkpoint=checkpoint)
    assert list(history.epoch) == [0]  # loaded, not retrained: nothing new to log
    assert not scalars(tmp_path / "tensorboard")


def test_without_a_checkpoint_each_training_gets_its_own_folder_under_the_default_root(
        digits, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "TENSORBOARD_DEFAULT_ROOT", tmp_path / "runs" / "tensorboard")
    for _ in range(2):
        train_digits(digits, TrainConfig(epochs=1, batch_size=64, tensorboard=True))
    folders = sorted((tmp_path / "runs" / "tensorboard").iterdir())
    assert len(folders) == 2
    assert all([step for step, _ in scalars(folder)["train_loss"]] == [0] for folder in folders)
