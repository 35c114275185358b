import numpy as np
import pandas as pd
import pytest

from nbutils.claims import judge_claims
from nbutils.metrics import evaluate
from nbutils.report import (PAPER_TABLE_KINDS, beside_papers, check_paper_dataset, claims_markdown, method_label,
                            paper_datasets, paper_results, read_paper_tables, tables_for_task)


def test_every_published_method_maps_to_one_of_ours():
    from nbutils.methods import METHODS
    table = read_paper_tables()
    assert table["method_here"].notna().all()
    assert set(table["method_here"]) <= set(METHODS)
    lmf = table[table["source"] == "lmfloss"]
    assert set(lmf["method_here"]) == {"ce", "focal", "ldam", "lmf"} and set(lmf["backbone"]) == {"EfficientNetV2", "ResNet50"}
    assert set(table.loc[table["method"] == "Baseline", "method_here"]) == {"ce"}


def test_paper_datasets_name_every_table_once():
    assert set(paper_datasets()) == set(read_paper_tables()["name"]) == set(PAPER_TABLE_KINDS)
    for name in paper_datasets():
        assert len(paper_results(name)) > 0 and set(paper_results(name)["name"]) == {name}


@pytest.mark.parametrize("given, meant", [("auto", None), (None, None), ("HAM10000 multiclass", "HAM10000 multiclass"),
                                          ("ham10000", "HAM10000"), ("chest X-ray", "chest X-ray pneumonia"),
                                          ("binary CIFAR-100", "binary CIFAR-100")])
def test_paper_dataset_names(given, meant):
    assert check_paper_dataset(given) == meant


def test_a_typo_names_the_valid_tables():
    with pytest.raises(ValueError, match=r"'HAM1000 multiclass' is not a published table; valid: \['auto', 'binary CIFAR-100'"):
        check_paper_dataset("HAM1000 multiclass")
    with pytest.raises(ValueError, match="matches several tables"):
        check_paper_dataset("binary")


def test_each_task_sits_beside_tables_of_its_kind():
    """The old notebook set the binary T-shirt task beside the multiclass HAM10000 table."""
    assert tables_for_task(["rest", "T-shirt/top"])[0] == ["binary HAM10000", "binary CIFAR-100"]
    assert tables_for_task(list("abcdefg"))[0] == ["HAM10000 multiclass", "HAM10000"]
    assert tables_for_task(list("abcdefg"), "ISIC-2019")[0] == ["ISIC-2019"]
    tables, why = tables_for_task(["rest", "T-shirt/top"], "HAM10000 multiclass")
    assert tables == ["binary HAM10000", "binary CIFAR-100"] and "does not fit" in why


def result_rows(classes: list[str], methods=("ce", "wce", "lmf", "ap"), seeds=(0, 1, 2)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.integers(0, len(classes), 300)
    rows = []
    for i, method in enumerate(methods):
        for seed in seeds:
            scores = rng.normal(size=(300, len(classes))) + (1 + 0.3 * i) * np.eye(len(classes))[y]
            rows.append({"task": "t", "method": method, "seed": seed, **evaluate(y, scores, classes)})
    return pd.DataFrame(rows)


def test_binary_task_beside_the_binary_tables_with_their_metrics():
    classes = ["rest", "pos"]
    table, why = beside_papers(result_rows(classes), classes)
    assert "binary HAM10000" in why
    assert "AP of the positive class: regrouping-long Table 1" in table.columns
    assert table.loc["rg", "BA: regrouping-long Table 1"] in ("71.3 ± 3.1", "84.5 ± 2.2")
    ours = table.loc["ce", "BA: ours"]
    assert " ± " in ours  # mean ± half-width of the 95% interval over 3 seeds
    assert "ap (SOAP)" in table.index


def test_multiclass_task_beside_lmf_and_regrouping_with_each_papers_metric():
    classes = list("abcdefg")
    rows = result_rows(classes).drop(columns="accuracy")  # results cached before accuracy existed
    table, _ = beside_papers(rows, classes)
    assert table.loc["lmf", "macro F1: lmfloss Table 1 ResNet50"] == "82.4"
    assert table.loc["lmf", "accuracy: lmfloss Table 1 EfficientNetV2"] == "91.2"
    assert " ± " in table.loc["lmf", "accuracy: ours"]
    assert table.loc["ce", "BA: regrouping-long Table 2"] == "55.4 ± 2.2"
    published = [59.2, 65.5, 73.2, 54.0, 76.0, 47.5, 96.2]
    assert table.loc["ce", "macro AP: regrouping-long Table 2"] == f"{np.mean(published):.1f}"


def test_balancing_act_shows_f1_and_recall_of_the_positive_class():
    classes = ["normal", "pneumonia"]
    table, _ = beside_papers(result_rows(classes, methods=("ce", "ros")), classes, "chest X-ray")
    assert table.loc["ce", "recall of the positive class: balancing-act 5.4 Results"] == "81.0"
    assert table.loc["ros", "F1 of the positive class: balancing-act 5.4 Results"] == "87.0"
    assert "F1 of the positive class: ours" in table.columns


def test_claims_markdown_is_read_from_the_table():
    rows = result_rows(["rest", "pos"], methods=("ce", "rg", "rg-random"))
    claims = judge_claims(rows, "t", ["pos"]).assign(task="t")
    text = claims_markdown(claims)
    first = claims.iloc[0]
    assert f"**{first.verdict}**" in text and f"{100 * first.effect:+.1f}" in text
    assert text.count("\n") == len(claims) - 1
    assert method_label("ap") == "ap (SOAP)" and method_label("ce") == "ce"
