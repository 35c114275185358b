import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.metrics import average_precision_score, roc_auc_score

from nbutils.core.metrics import (
    auroc,
    balanced_accuracy,
    bootstrap_runs,
    confusion,
    evaluate,
    format_mean_std,
    interval_table,
    macro_ap,
    normalized_mutual_info_score,
    per_class_ap,
    precision_recall_f1,
    replicate_metrics,
    stratified_weights,
    summarize,
    unit_interval,
    weighted_ap,
    weighted_auroc,
)


def random_task(n_classes: int, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Imbalanced labels (N,) and noisy logits (N, C) that carry some signal."""
    rng = np.random.default_rng(seed)
    prior = np.arange(n_classes, 0, -1) ** 2.0
    y = rng.choice(n_classes, size=n, p=prior / prior.sum())
    logits = rng.normal(size=(n, n_classes)) + 1.5 * np.eye(n_classes)[y]
    return y, logits


@pytest.mark.parametrize("n_classes", [2, 5])
def test_per_class_ap_equals_sklearn_one_vs_rest(n_classes):
    y, s = random_task(n_classes)
    expected = [average_precision_score(y == c, s[:, c]) for c in range(n_classes)]
    np.testing.assert_array_equal(per_class_ap(y, s), expected)
    assert macro_ap(y, s) == pytest.approx(np.mean(expected))


def test_auroc_binary_uses_class_one_score():
    y, s = random_task(2)
    s[:, 0] = 0.0  # class 0's column must not matter
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s[:, 1]))


def test_auroc_multiclass_is_sklearn_macro_ovr():
    y, s = random_task(4)
    probs = softmax(s, axis=1)
    assert auroc(y, probs) == pytest.approx(roc_auc_score(y, probs, multi_class="ovr", average="macro"))


def test_hand_worked_binary_example():
    # Positive-class scores 0.1, 0.4, 0.35, 0.8 for labels 0, 0, 1, 1: ranking 1, 0, 1, 0 -> AP = (1 + 2/3) / 2;
    # class 0 scores 1 - s rank 0, 1, 0, 1 from the top -> the same AP. AUROC: 3 of 4 pos/neg pairs ordered.
    # argmax predicts 0, 0, 0, 1: recall (1, 1/2), precision (2/3, 1), F1 (0.8, 2/3).
    p = np.array([0.1, 0.4, 0.35, 0.8])
    row = evaluate(np.array([0, 0, 1, 1]), np.stack([1 - p, p], axis=1), ["benign", "malignant"])
    assert row["ap/malignant"] == pytest.approx(5 / 6)
    assert row["ap/benign"] == pytest.approx(5 / 6)
    assert row["macro_ap"] == pytest.approx(5 / 6)
    assert row["auroc"] == pytest.approx(0.75)
    assert row["ba"] == pytest.approx(0.75)
    assert row["recall/malignant"] == pytest.approx(0.5)
    assert row["precision/benign"] == pytest.approx(2 / 3)
    assert row["f1/benign"] == pytest.approx(0.8)
    assert row["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert row["macro_precision"] == pytest.approx((2 / 3 + 1) / 2)
    assert row["macro_recall"] == pytest.approx(0.75)
    assert row["confusion"] == [[2, 0], [1, 1]]
    assert row["accuracy"] == pytest.approx(0.75)


def test_evaluate_uses_given_predictions():
    p = np.array([0.1, 0.4, 0.35, 0.8])
    row = evaluate(np.array([0, 0, 1, 1]), np.stack([1 - p, p], axis=1), ["a", "b"], y_pred=np.array([0, 1, 1, 1]))
    assert row["confusion"] == [[1, 1], [0, 2]]
    assert row["ba"] == pytest.approx(0.75)
    assert row["ap/b"] == pytest.approx(5 / 6)  # ranking metrics ignore y_pred


def test_balanced_accuracy_and_f1_by_hand():
    y_true, y_pred = np.array([0, 0, 0, 1, 2]), np.array([0, 0, 1, 1, 1])
    assert balanced_accuracy(y_true, y_pred) == pytest.approx((2 / 3 + 1 + 0) / 3)
    precision, recall, f1 = precision_recall_f1(y_true, y_pred, 3)
    np.testing.assert_allclose(precision, [1, 1 / 3, 0])  # class 2 never predicted: zero_division=0
    np.testing.assert_allclose(recall, [2 / 3, 1, 0])
    np.testing.assert_allclose(f1, [0.8, 0.5, 0])
    np.testing.assert_array_equal(confusion(y_true, y_pred, 3), [[2, 1, 0], [0, 1, 0], [0, 1, 0]])


def test_absent_class_has_nan_ap_and_is_skipped_by_macro_ap():
    y = np.array([0, 0, 1, 1])
    s = np.array([[0.9, 0.1, 0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    ap = per_class_ap(y, s)
    assert np.isnan(ap[2]) and ap[0] == pytest.approx(1.0) and ap[1] == pytest.approx(5 / 6)
    assert macro_ap(y, s) == pytest.approx((1 + 5 / 6) / 2)


@pytest.mark.parametrize("y, scores, classes, message", [
    (np.array([0, 1, 1]), np.zeros((4, 2)), ["a", "b"], "3 labels but scores has 4 rows"),
    (np.array([0, 1]), np.zeros((2, 3)), ["a", "b"], "3 columns but 2 class names"),
    (np.array([0, 1]), np.array([[0.1, np.nan], [0.2, 0.8]]), ["a", "b"], "NaN"),
    (np.array([0, 1]), np.zeros(2), ["a", "b"], "C >= 2"),
    (np.array([0, 3]), np.zeros((2, 2)), ["a", "b"], r"labels \[3\] outside 0..1"),
])
def test_bad_input_gives_clear_value_error(y, scores, classes, message):
    with pytest.raises(ValueError, match=message):
        evaluate(y, scores, classes)


def test_float_labels_are_a_type_error():
    with pytest.raises(TypeError, match="integer"):
        per_class_ap(np.array([0.0, 1.0]), np.zeros((2, 2)))


def results() -> pd.DataFrame:
    return pd.DataFrame({
        "task": ["t"] * 4, "method": ["ce", "ce", "ce", "rg"], "seed": [0, 1, 2, 0],
        "ba": [0.60, 0.62, 0.64, 0.70], "ap/x": [0.5, 0.6, 0.7, 0.9],
        "confusion": [[[1]]] * 4,
    })


def test_summarize_mean_sample_std_and_run_count():
    summary = summarize(results())
    assert list(summary.columns) == ["ba_mean", "ba_std", "ba_half", "ap/x_mean", "ap/x_std", "ap/x_half", "n_runs"]
    ce = summary.loc[("t", "ce")]
    assert ce["ba_mean"] == pytest.approx(0.62)
    assert ce["ba_std"] == pytest.approx(0.02)  # ddof=1: sqrt((0.02^2 + 0 + 0.02^2) / 2)
    assert ce["ap/x_std"] == pytest.approx(0.1)
    assert ce["n_runs"] == 3
    assert np.isnan(summary.loc[("t", "rg"), "ba_std"])
    assert ce["ba_half"] == pytest.approx(4.302653 * 0.02 / np.sqrt(3))  # 95% t-interval over 3 seeds
    assert np.isnan(summary.loc[("t", "rg"), "ba_half"])


def test_format_mean_std_prints_percentages():
    table = format_mean_std(summarize(results()), ["ba", "ap/x"])
    assert table.loc[("t", "ce"), "ba"] == "62.0 ± 2.0"
    assert table.loc[("t", "ce"), "ap/x"] == "60.0 ± 10.0"
    assert table.loc[("t", "rg"), "ba"] == "70.0"  # one run: no std
    assert format_mean_std(summarize(results()), ["ba"], scale=1, digits=3).loc[("t", "ce"), "ba"] == "0.620 ± 0.020"


def test_summarize_and_format_name_unknown_columns():
    with pytest.raises(ValueError, match="group columns"):
        summarize(results(), by=("dataset",))
    with pytest.raises(ValueError, match="available"):
        format_mean_std(summarize(results()), ["auroc"])


def test_format_prints_the_interval_half_width():
    table = format_mean_std(summarize(results()), ["ba"], spread="half")
    assert table.loc[("t", "ce"), "ba"] == f"62.0 ± {100 * 4.302653 * 0.02 / np.sqrt(3):.1f}"
    with pytest.raises(ValueError, match="'std' or 'half'"):
        format_mean_std(summarize(results()), ["ba"], spread="sem")


@pytest.mark.parametrize("n_classes", [2, 4])
def test_weighted_metrics_equal_evaluate_on_the_resampled_set(n_classes):
    y, s = random_task(n_classes)
    s = np.round(s, 1)  # ties
    weights = stratified_weights(y, 3, np.random.default_rng(0))
    classes = [f"c{i}" for i in range(n_classes)]
    values = replicate_metrics(y, s, classes, np.vstack([np.ones(len(y)), weights]))
    for b, w in enumerate(np.vstack([np.ones(len(y)), weights])):
        picked = np.repeat(np.arange(len(y)), w.astype(int))
        expected = evaluate(y[picked], s[picked], classes)
        for key in ("ba", "accuracy", "macro_ap", "auroc", "macro_f1", "macro_recall", "macro_precision", "ap/c1",
                    "f1/c0"):
            assert values[key][b] == pytest.approx(expected[key]), key
    assert weighted_ap(y == 1, s[:, 1], np.ones((1, len(y))))[0] == pytest.approx(average_precision_score(y == 1, s[:, 1]))
    assert weighted_auroc(y == 1, s[:, 1], np.ones((1, len(y))))[0] == pytest.approx(roc_auc_score(y == 1, s[:, 1]))


def test_stratified_bootstrap_keeps_class_counts():
    y = np.repeat([0, 1, 2], [50, 7, 3])
    weights = stratified_weights(y, 20, np.random.default_rng(1))
    for c, n in zip(range(3), (50, 7, 3)):
        assert (weights[:, y == c].sum(axis=1) == n).all()


def test_single_seed_methods_get_a_test_image_interval():
    y, good = random_task(2, n=400)
    rows = pd.DataFrame([{"task": "t", "method": "ce", "seed": 0, **evaluate(y, good, ["a", "b"])}])
    replicates = bootstrap_runs(y, {("ce", 0): good}, ["a", "b"], n_boot=200)
    cell = interval_table(rows, ["ba"], replicates).loc["ce", "ba"]
    half = float(cell.split(" ± ")[1])
    assert 0.5 < half < 15  # a few points on 400 images, not zero and not absent
    assert " ± " not in interval_table(rows, ["ba"]).loc["ce", "ba"]  # no replicates: the mean alone


# A make test failure on another CPU: scikit-learn's AP of a perfectly ranked class is the sum of its recall steps, and for
# some tie patterns that sum rounds one step above 1. Found by a search over tie patterns: nine
# positives scored 4, 3, 2 and six tied at 1 (recall steps 1/9, 1/9, 1/9, 6/9), one negative at 0.
ROUNDING_UP_LABELS = np.array([1] * 9 + [0])
ROUNDING_UP_SCORES = np.array([4, 3, 2, 1, 1, 1, 1, 1, 1, 0], dtype=float)
# ... and its NMI of two identical partitions (one relabelled) is a ratio that rounds above 1 here.
NMI_ROUNDING_UP = (np.array([0, 4, 4, 2, 2, 4, 5]), np.array([1, 0, 0, 3, 3, 0, 2]))


def test_the_rounding_up_cases_still_round_up_in_scikit_learn():
    """The cases below are real: without unit_interval these metrics would leave [0, 1]."""
    assert average_precision_score(ROUNDING_UP_LABELS, ROUNDING_UP_SCORES) > 1
    assert skm.normalized_mutual_info_score(*NMI_ROUNDING_UP) > 1


def test_metrics_stay_in_the_unit_interval_when_the_summation_rounds_up():
    p = ROUNDING_UP_SCORES
    scores = np.stack([-p, p], axis=1)  # class 1 perfectly ranked; class 0 (one image) as well
    assert per_class_ap(ROUNDING_UP_LABELS, scores).tolist() == [1.0, 1.0]
    assert macro_ap(ROUNDING_UP_LABELS, scores) == 1.0
    row = evaluate(ROUNDING_UP_LABELS, scores, ["rest", "positive"])
    assert row["ap/positive"] == 1.0 and row["macro_ap"] == 1.0 and row["auroc"] == 1.0
    for key, value in row.items():
        if key != "confusion":
            assert 0 <= value <= 1, key
    weights = np.vstack([np.ones(len(p)), stratified_weights(ROUNDING_UP_LABELS, 50, np.random.default_rng(0))])
    for key, values in replicate_metrics(ROUNDING_UP_LABELS, scores, ["rest", "positive"], weights).items():
        assert ((values >= 0) & (values <= 1)).all(), key
    assert normalized_mutual_info_score(*NMI_ROUNDING_UP) == 1.0


def test_unit_interval_clips_rounding_keeps_nan_and_rejects_real_excursions():
    assert unit_interval(1.0000000000000002) == 1.0 and unit_interval(-1e-17) == 0.0
    assert np.isnan(unit_interval(float("nan"))) and unit_interval(0.25) == 0.25
    np.testing.assert_array_equal(unit_interval(np.array([np.nan, 1 + 2e-16, 0.5])), [np.nan, 1.0, 0.5])
    with pytest.raises(ValueError, match="outside"):
        unit_interval(1.1)
