import numpy as np

from nbutils.diagnostics import centre_mass, class_spread, leader_sentence, neighbour_agreement, stratified_sample


def test_class_spread_is_the_mean_squared_distance_to_the_class_centre():
    features = np.array([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0], [5.0, 7.0], [5.0, 9.0]])
    labels = np.array([0, 0, 1, 1, 1])
    spread = class_spread(features, labels, 3)
    np.testing.assert_allclose(spread[:2], [1.0, 8 / 3])
    assert np.isnan(spread[2])


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


def test_leader_sentence_never_calls_a_tie_a_win():
    assert leader_sentence({"a": 0.71, "b": 0.65, "c": 0.60}) == "**a** leads (0.71 against at most 0.65)"
    assert "no clear leader" in leader_sentence({"a": 0.69, "b": 0.68, "c": 0.50})
