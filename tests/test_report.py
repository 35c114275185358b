import numpy as np
import pandas as pd
import pytest

from nbutils.analysis import papers
from nbutils.analysis.claims import judge_claims
from nbutils.analysis.markdown import claims_markdown
from nbutils.analysis.papers import (
    PAPER_ONLY_METHODS,
    PAPER_TABLE_KINDS,
    SOAP_NOTE,
    beside_papers,
    check_paper_columns,
    check_paper_dataset,
    method_label,
    ours_intervals,
    paper_column,
    paper_datasets,
    paper_results,
    per_class_beside_papers,
    read_paper_tables,
    tables_for_task,
    wide_published,
)
from nbutils.core.metrics import evaluate


def test_every_published_method_maps_to_one_of_ours():
    from nbutils.methods.registry import METHODS
    table = read_paper_tables()
    assert table["method_here"].notna().all()
    assert set(table["method_here"]) <= set(METHODS) | set(PAPER_ONLY_METHODS)
    lmf = table[table["source"] == "lmfloss"]
    assert set(lmf["method_here"]) == {"ce", "focal", "ldam", "lmf"} and set(lmf["backbone"]) == {"EfficientNetV2", "ResNet50"}
    assert set(table.loc[table["method"] == "Baseline", "method_here"]) == {"ce"}
    # the regrouping papers' "AP" is Chen et al.'s AP-loss: never merged with our SOAP `ap`
    assert set(table.loc[table["method"] == "AP", "method_here"]) == {"AP-loss (Chen et al. 2019)"}
    assert "ap" not in set(table["method_here"])


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
    # both binary tables of the long paper's Table 1, each in its own columns (the old column
    # "regrouping-long Table 1" held CIFAR-100's numbers and HAM10000's were dropped)
    assert table.loc["rg", "BA: regrouping-long Table 1 binary HAM10000"] == "71.3 ± 3.1"
    assert table.loc["rg", "BA: regrouping-long Table 1 binary CIFAR-100"] == "84.5 ± 2.2"
    assert table.loc["rusc", "AP of the positive class: regrouping-long Table 1 binary HAM10000"] == "27.4 ± 5.5"
    assert table.loc["rusc", "AP of the positive class: regrouping-long Table 1 binary CIFAR-100"] == "14.5 ± 4.7"
    ours = table.loc["ce", "BA: ours"]
    ce = result_rows(classes)
    ce = ce[ce["method"] == "ce"]["ba"]
    assert ours == f"{100 * ce.mean():.1f} ± {100 * ce.std():.1f}"  # mean ± std over seeds, as the papers print
    assert "ap (SOAP)" in table.index
    assert "for ours: the standard deviation over 3 seeds" in why and "for the papers': the standard deviation" in why


@pytest.mark.parametrize("kind_classes", [["rest", "pos"], list("abcdefg")])
def test_no_two_published_tables_share_a_column(kind_classes):
    """Every published table of a kind stands under its own name: as many columns of a metric as
    tables that give it."""
    papers = read_paper_tables()
    check_paper_columns(papers)
    groups = papers[["source", "table", "name", "backbone"]].drop_duplicates()
    assert len({paper_column(*g) for g in groups.itertuples(index=False)}) == len(groups)
    table, _ = beside_papers(result_rows(kind_classes), kind_classes)
    names, _ = tables_for_task(kind_classes)
    with_ba = papers[papers["name"].isin(names) & (papers["metric"] == "BA")]
    ba_tables = with_ba[["source", "table", "name", "backbone"]].drop_duplicates()
    assert len([c for c in table.columns if c.startswith("BA: ") and c != "BA: ours"]) == len(ba_tables)


def test_tables_named_by_source_and_number_alone_are_refused(monkeypatch):
    """The old naming (source + table): the two binary tables of the long paper's Table 1 collide."""
    monkeypatch.setattr(papers, "paper_column", lambda source, table, name, backbone="": f"{source} {table} {backbone}".strip())
    with pytest.raises(ValueError, match="share the column"):
        check_paper_columns(read_paper_tables())
    values = pd.DataFrame({"method_here": ["rg", "rg"], "column": ["t", "t"], "value": ["1", "2"]})
    with pytest.raises(ValueError, match="repeat"):
        wide_published(values)


def test_multiclass_task_beside_lmf_and_regrouping_with_each_papers_metric():
    classes = list("abcdefg")
    rows = result_rows(classes).drop(columns="accuracy")  # results cached before accuracy existed
    table, _ = beside_papers(rows, classes)
    assert table.loc["lmf", "macro F1: lmfloss Table 1 HAM10000 ResNet50"] == "82.4"
    assert table.loc["lmf", "accuracy: lmfloss Table 1 HAM10000 EfficientNetV2"] == "91.2"
    assert " ± " in table.loc["lmf", "accuracy: ours"]
    assert table.loc["ce", "BA: regrouping-long Table 2 HAM10000 multiclass"] == "55.4 ± 2.2"
    published = [59.2, 65.5, 73.2, 54.0, 76.0, 47.5, 96.2]
    assert table.loc["ce", "macro AP: regrouping-long Table 2 HAM10000 multiclass"] == f"{np.mean(published):.1f}"


def test_the_papers_ap_loss_has_its_own_row_apart_from_our_soap():
    classes = list("abcdefg")
    table, _ = beside_papers(result_rows(classes), classes)
    assert table.loc["AP-loss (Chen et al. 2019)", "BA: regrouping-short Table 1 HAM10000 multiclass"] == "52.3"
    assert pd.isna(table.loc["AP-loss (Chen et al. 2019)", "BA: ours"])
    assert pd.isna(table.loc["ap (SOAP)", "BA: regrouping-short Table 1 HAM10000 multiclass"])
    assert "Qi et al. 2021" in SOAP_NOTE and "Chen et al.'s AP-loss (2019)" in SOAP_NOTE


def test_one_meaning_of_plus_minus_per_table():
    classes = ["rest", "pos"]
    rows = result_rows(classes)
    rows = rows[~((rows["method"] == "lmf") & (rows["seed"] > 0))]  # lmf ran on one seed
    replicates = {(m, s): {"ba": np.full(50, 0.5) + np.linspace(-0.1, 0.1, 50)} for m, s in zip(rows["method"], rows["seed"])}
    table, meaning = ours_intervals(rows, ["ba"], replicates)
    assert "t-interval over 3 seeds" in meaning and "lmf: one seed, mean alone" in meaning
    assert " ± " not in table.loc["lmf", "ba"] and " ± " in table.loc["ce", "ba"]
    single = rows[rows["seed"] == 0]
    table, meaning = ours_intervals(single, ["ba"], replicates)
    assert "bootstrap interval over test images" in meaning and all(" ± " in v for v in table["ba"])


def test_multiclass_per_class_ap_beside_the_papers_per_class_ap():
    classes = list("abcdefg")
    counts = [115, 6705, 1113, 1099, 514, 327, 142]  # g... : our largest class is "b"
    table, caption = per_class_beside_papers(result_rows(classes), classes, counts=counts)
    assert "same rank by training count" in caption and "standard deviation" in caption
    assert table.loc[("nv", "ce"), "our class"] == "b" and table.loc[("df", "ce"), "our class"] == "a"
    assert table.loc[("df", "ce"), "regrouping-long Table 2 HAM10000 multiclass"] == "47.5 ± 5.4"
    assert table.loc[("df", "ce"), "regrouping-short Table 1 HAM10000 multiclass"] == "33.2"
    assert " ± " in table.loc[("df", "ce"), "ours"]
    assert table.loc[("mel", "AP-loss (Chen et al. 2019)"), "regrouping-short Table 1 HAM10000 multiclass"] == "58.3"
    ham = ["nv", "mel", "bkl", "bcc", "akiec", "vasc", "df"]
    by_name, caption = per_class_beside_papers(result_rows(ham[::-1]), ham[::-1])
    assert "paired by name" in caption and by_name.loc[("df", "ce"), "our class"] == "df"
    none, why = per_class_beside_papers(result_rows(list("abcdefgh")), list("abcdefgh"), "ISIC-2019")
    assert none.empty and "No" in why


def test_balancing_act_shows_f1_and_recall_of_the_positive_class():
    classes = ["normal", "pneumonia"]
    table, _ = beside_papers(result_rows(classes, methods=("ce", "ros")), classes, "chest X-ray")
    assert table.loc["ce", "recall of the positive class: balancing-act 5.4 Results chest X-ray pneumonia"] == "81.0"
    assert table.loc["ros", "F1 of the positive class: balancing-act 5.4 Results chest X-ray pneumonia"] == "87.0"
    assert "F1 of the positive class: ours" in table.columns


def test_claims_markdown_is_read_from_the_table():
    rows = result_rows(["rest", "pos"], methods=("ce", "rg", "rg-random"))
    claims = judge_claims(rows, "t", ["pos"]).assign(task="t")
    text = claims_markdown(claims)
    first = claims.iloc[0]
    assert f"**{first.verdict}**" in text and f"{100 * first.effect:+.1f}" in text
    assert text.count("\n") == len(claims) - 1
    assert method_label("ap") == "ap (SOAP)" and method_label("ce") == "ce"


def test_claims_markdown_states_each_effects_unit_and_reads_old_tables():
    new = pd.DataFrame([
        {"task": "t", "claim": "BA and AP rank methods differently", "metric": "swap", "effect": 0.12, "low": 0.05,
         "high": 0.2, "n_seeds": 3, "verdict": "holds", "unit": "points", "kendall_tau": -0.4, "tau_low": -0.6,
         "tau_high": -0.1},
        {"task": "t", "claim": "RG learns classes more synchronously", "metric": "asynchrony of target_spread/<class>",
         "effect": 0.0123, "low": -0.01, "high": 0.03, "n_seeds": 3, "verdict": "inconclusive", "unit": "ln ratio",
         "kendall_tau": np.nan, "tau_low": np.nan, "tau_high": np.nan}])
    text = claims_markdown(new)
    assert "largest BA-up-AP-down swap of the named pairs +12.0 (95% interval +5.0 to +20.0) points" in text
    assert "Kendall tau -0.40 (95% interval -0.60 to -0.10), a description" in text
    assert "effect +0.012 (95% interval -0.010 to +0.030) in natural-log units" in text and "+1.2" not in text
    old = pd.DataFrame([
        {"task": "t", "claim": "BA and AP rank methods differently", "metric": "Kendall tau of BA vs macro_ap rankings",
         "effect": -0.34, "low": -0.43, "high": -0.1, "n_seeds": 3, "verdict": "inconclusive"},
        {"task": "t", "claim": "RG learns classes more synchronously", "metric": "asynchrony of spread/<class> over epochs",
         "effect": 0.006, "low": -0.25, "high": 0.26, "n_seeds": 3, "verdict": "inconclusive"}])
    text = claims_markdown(old)
    assert "Kendall tau -0.34 (95% interval -0.43 to -0.10)" in text
    assert "effect +0.006 (95% interval -0.250 to +0.260) (std across classes of their 0-1 progress)" in text
    assert "points" not in text
