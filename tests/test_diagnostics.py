import copy

import numpy as np
import torch
import torch.nn as nn

from nbutils.analysis.diagnostics import (
    UNTRAINED,
    ClassSpread,
    Evaluate,
    TargetSpread,
    centre_mass,
    class_spread,
    empty_maps,
    leader,
    leader_sentence,
    neighbour_agreement,
    stratified_sample,
    with_untrained_row,
)
from nbutils.data.imagesets import ImageSet, TrainingSet
from nbutils.methods.models import make_model
from nbutils.methods.train import TrainConfig, evaluation_row, extract_features, fit, softmax_scores


def test_class_spread_is_the_within_class_share_of_the_total_variation():
    features = np.array([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0], [5.0, 7.0], [5.0, 9.0]])
    labels = np.array([0, 0, 1, 1, 1])
    total = ((features - features.mean(0)) ** 2).sum(1).mean()  # 14.24
    spread = class_spread(features, labels, 3)
    np.testing.assert_allclose(spread[:2], [1.0 / total, (8 / 3) / total])
    assert np.isnan(spread[2])
    assert np.isnan(class_spread(np.ones((4, 3)), np.array([0, 0, 1, 1]), 2)).all()  # no variation: 0 / 0


def test_class_spread_ignores_the_size_and_offset_of_the_features():
    """The old measure grew 100-fold here: growing features read as spreading classes."""
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 8)), np.arange(60) % 3
    spread = class_spread(features, labels, 3)
    np.testing.assert_allclose(class_spread(10 * features, labels, 3), spread)
    np.testing.assert_allclose(class_spread(features + 5.0, labels, 3), spread)
    separated = features + 4.0 * np.eye(8)[labels]  # the same classes, pulled apart: a smaller share each
    assert (class_spread(separated, labels, 3) < spread / 2).all()


def test_callbacks_record_the_untrained_model_as_epoch_0():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 1, 8, 8), dtype=torch.uint8, generator=generator)
    fine, labels = np.arange(48) % 4, (np.arange(48) % 4 == 3).astype(int)
    test = ImageSet(images[:16], labels[:16], ["rest", "pos"])
    model = make_model("cnn", 2, in_channels=1, image_size=8, width=4)
    untrained = copy.deepcopy(model).eval()
    expected_spread = class_spread(extract_features(untrained, images), fine, 4)
    expected_eval = evaluation_row(untrained, test, softmax_scores, "test")
    callbacks = [ClassSpread(images, fine, ["a", "b", "c", "d"], per_class=12), Evaluate(test)]
    history = fit(model, TrainingSet(images, labels), nn.CrossEntropyLoss(),
                  TrainConfig(epochs=2, batch_size=16, device="cpu"), callbacks=callbacks)
    assert f"{UNTRAINED}spread/a" in history.columns
    table = with_untrained_row(history)
    assert list(table["epoch"]) == [0, 1, 2] and list(table.columns) == [c for c in history.columns
                                                                        if not c.startswith(UNTRAINED)]
    np.testing.assert_allclose(table.loc[0, [f"spread/{c}" for c in "abcd"]].astype(float), expected_spread,
                               rtol=1e-4)
    np.testing.assert_allclose(table.loc[0, "test_macro_ap"], expected_eval["test_macro_ap"], rtol=1e-4)
    assert np.isnan(table.loc[0, "train_loss"]) and table.loc[1:, "train_loss"].notna().all()
    np.testing.assert_array_equal(table.loc[1:, "spread/a"], history["spread/a"])


def test_target_spread_measures_the_training_targets_and_leaves_the_training_unchanged():
    """The paper's Fig. 5 measure: each training target's share of the variation (here 4 pseudo-
    classes), the same model trained with and without the callbacks (exact: same process)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (48, 1, 8, 8), dtype=torch.uint8, generator=generator)
    targets = np.arange(48) % 4
    histories, weights = [], []
    for callbacks in ((), (TargetSpread(per_class=6), ClassSpread(images, targets, list("abcd"), 6))):
        torch.manual_seed(0)
        model = make_model("cnn", 4, in_channels=1, image_size=8, width=4)
        histories.append(fit(model, TrainingSet(images, targets), nn.CrossEntropyLoss(),
                             TrainConfig(epochs=2, batch_size=16, device="cpu"), callbacks=callbacks))
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)
    np.testing.assert_array_equal(histories[0]["train_loss"], histories[1]["train_loss"])
    measured = histories[1]
    assert [f"target_spread/{k}" for k in range(4)] == [c for c in measured.columns if c.startswith("target_spread/")]
    # with 6 images a target, the targets' sample is ClassSpread's sample of the same labels (same seed)
    np.testing.assert_allclose(measured[[f"target_spread/{k}" for k in range(4)]].to_numpy(),
                               measured[[f"spread/{c}" for c in "abcd"]].to_numpy())


def test_neighbour_agreement_is_one_for_separated_labels_and_low_for_shuffled_ones():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 0.1, (50, 2)), rng.normal(5, 0.1, (50, 2))])
    labels = np.repeat([0, 1], 50)
    assert neighbour_agreement(features, labels, k=5) == 1.0
    assert neighbour_agreement(features, rng.permutation(labels), k=5) < 0.7


def test_centre_mass_and_stratified_sample():
    maps = np.zeros((2, 8, 8))
    maps[0, 3, 3] = 1.0          # all inside the central half
    maps[1, 0, 0] = maps[1, 4, 4] = 1.0  # half inside
    assert centre_mass(maps) == 0.75
    keep = stratified_sample(np.array([0] * 10 + [1] * 3), per_class=4, seed=0)
    assert len(keep) == 7 and list(keep) == sorted(keep)


def test_an_all_zero_map_has_no_centre_mass():
    """A model that has not learnt gives empty maps: NaN, not 0.0 ('all mass outside the centre')."""
    maps = np.zeros((3, 8, 8))
    assert np.isnan(centre_mass(maps))
    maps[1, 3, 3] = 1.0
    assert centre_mass(maps) == 1.0  # the empty maps are left out of the mean, and counted apart
    np.testing.assert_array_equal(empty_maps(maps), [True, False, True])


def test_leader_sentence_never_calls_a_tie_a_win():
    assert leader_sentence({"a": 0.71, "b": 0.65, "c": 0.60}) == "**a** leads (0.71 against at most 0.65)"
    assert leader({"a": 0.71, "b": 0.65, "c": 0.60}) == "a"
    assert "no clear leader" in leader_sentence({"a": 0.69, "b": 0.68, "c": 0.50})
    assert leader({"a": 0.69, "b": 0.68, "c": 0.50}) is None
