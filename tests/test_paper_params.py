"""The paper-scale parameter files: each holds at paper scale (settings, methods and their options,
model reuse across notebooks, published table), checked without training; and each runs end to end
on CPU (slow) against a tiny fixture in its data set's exact on-disk format, with the overrides of
the files' comments (``data_root=... epochs=1 image_size=32``) and a few that shrink the run
further (one seed, one or two methods, a small CNN, raw pixels instead of CLIP for regrouping).
Also: the ``step`` learning-rate schedule of the MedMNIST recipe."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from nbutils.analysis.cam import CAM_METHODS
from nbutils.analysis.papers import paper_results
from nbutils.core.config import build
from nbutils.data.imagesets import TrainingSet
from nbutils.data.medical import HAM10000_CLASSES
from nbutils.methods.encoders import ENCODERS
from nbutils.methods.losses import make_loss
from nbutils.methods.models import check_model_options
from nbutils.methods.registry import METHODS, default_loss_options, method_spec, split_options
from nbutils.methods.sampling import sampler_options
from nbutils.methods.settings import ModelOptions, RegroupOptions
from nbutils.methods.train import TrainConfig, make_schedule
from nbutils.run import main
from nbutils.runs.parameters import plan

PARAMS = Path(__file__).resolve().parent.parent / "params"
SMALL = ["epochs=1", "image_size=32", "seeds=[0]", "regroup={encoder: raw, n_clusters: 3}"]
CNN = ["arch=cnn", "width=8"]


# --------------------------------------------------------------------------- fixture writers
def write_noise_image(path: Path, rng: np.random.Generator, size: tuple[int, int], grey: bool = False) -> None:
    """A JPEG of random pixels, ``size`` (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (size[1], size[0]) if grey else (size[1], size[0], 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path, "JPEG", quality=90)


def write_ham10000(root: Path, lesions_per_class: tuple[int, ...] = (24, 9, 9, 9, 8, 8, 8)) -> Path:
    """HAM10000_metadata.csv and HAM10000_images_part_{1,2}/ISIC_*.jpg; lesions alternately with
    1 and 2 images, so the lesion-grouped splits are exercised (113 images)."""
    rng = np.random.default_rng(0)
    rows, n = ["lesion_id,image_id,dx,dx_type,age,sex,localization"], 0
    for dx, lesions in zip(HAM10000_CLASSES, lesions_per_class):
        for lesion in range(lesions):
            for _ in range(1 + lesion % 2):
                image_id = f"ISIC_{n:07d}"
                write_noise_image(root / f"HAM10000_images_part_{1 + n % 2}" / f"{image_id}.jpg", rng, (24, 18))
                rows.append(f"HAM_{dx}{lesion:03d},{image_id},{dx},histo,50.0,male,back")
                n += 1
    (root / "HAM10000_metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def write_chest_xray(root: Path) -> Path:
    """chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg, grey, of varying size."""
    rng = np.random.default_rng(0)
    counts = {"train": (8, 24), "val": (3, 3), "test": (4, 8)}
    for split, (normal, pneumonia) in counts.items():
        for folder, n in (("NORMAL", normal), ("PNEUMONIA", pneumonia)):
            for i in range(n):
                write_noise_image(root / "chest_xray" / split / folder / f"person{i}_{folder.lower()}.jpeg",
                                  rng, (20 + i % 3 * 4, 16), grey=True)
    return root


def write_dermamnist(root: Path) -> Path:
    """dermamnist.npz in MedMNIST's layout: (N, 28, 28, 3) uint8 images, (N, 1) uint8 labels."""
    rng = np.random.default_rng(0)
    counts = {"train": (6, 8, 10, 4, 10, 30, 4), "val": (2, 2, 2, 1, 2, 4, 1), "test": (2, 2, 2, 2, 2, 4, 2)}
    arrays = {}
    for split, per_class in counts.items():
        labels = np.repeat(np.arange(7), per_class).astype(np.uint8)[:, None]
        arrays[f"{split}_images"] = rng.integers(0, 256, (len(labels), 28, 28, 3), dtype=np.uint8)
        arrays[f"{split}_labels"] = labels
    root.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "dermamnist.npz", **arrays)
    return root


def write_pickle(path: Path, entry: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(entry, f, protocol=2)


def cifar_batch(rng: np.random.Generator, labels: np.ndarray, label_key: str) -> dict:
    """One pickled CIFAR batch: 'data' (N, 3072) uint8 (R, G, B planes of 32 x 32) and labels."""
    return {"data": rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8), label_key: labels.tolist(),
            "filenames": [f"img_{i}.png" for i in range(len(labels))], "batch_label": "fixture"}


def write_cifar10(root: Path, per_class: int = 6, test_per_class: int = 4) -> Path:
    """torchvision's cifar-10-batches-py: data_batch_1..5, test_batch and batches.meta."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    train = rng.permutation(np.repeat(np.arange(10), per_class))
    for i, labels in enumerate(np.array_split(train, 5)):
        write_pickle(folder / f"data_batch_{i + 1}", cifar_batch(rng, labels, "labels"))
    write_pickle(folder / "test_batch", cifar_batch(rng, np.repeat(np.arange(10), test_per_class), "labels"))
    write_pickle(folder / "batches.meta", {"label_names": names, "num_cases_per_batch": len(train) // 5,
                                           "num_vis": 3072})
    return root


def write_cifar100(root: Path, per_class: int = 3, worm_train: int = 10) -> Path:
    """torchvision's cifar-100-python: train, test and meta (fine and coarse labels). Worm (class
    95) gets ``worm_train`` training images so SMOTE-style methods have neighbours."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-100-python"
    names = [f"class{c:02d}" for c in range(100)]
    names[95] = "worm"  # CIFAR-100's fine label 95
    counts = np.full(100, per_class)
    counts[95] = worm_train
    for split, labels in (("train", np.repeat(np.arange(100), counts)), ("test", np.repeat(np.arange(100), 2))):
        entry = cifar_batch(rng, labels, "fine_labels")
        entry["coarse_labels"] = (labels // 5).tolist()
        write_pickle(folder / split, entry)
    write_pickle(folder / "meta", {"fine_label_names": names,
                                   "coarse_label_names": [f"super{c:02d}" for c in range(20)]})
    return root


def write_isic2019(root: Path, per_class: tuple[int, ...] = (12, 24, 8, 8, 8, 8, 8, 8)) -> Path:
    """ISIC_2019_Training_GroundTruth.csv (one-hot, with an empty UNK column),
    ISIC_2019_Training_Metadata.csv (every second image shares the lesion of the one before) and
    ISIC_2019_Training_Input/*.jpg."""
    rng = np.random.default_rng(0)
    classes = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
    truth, meta, n = [",".join(["image"] + classes)], ["image,age_approx,anatom_site_general,lesion_id,sex"], 0
    for c, count in enumerate(per_class):
        for i in range(count):
            image = f"ISIC_{n:07d}"
            write_noise_image(root / "ISIC_2019_Training_Input" / f"{image}.jpg", rng, (24, 18))
            truth.append(",".join([image] + ["1.0" if k == c else "0.0" for k in range(len(classes))]))
            meta.append(f"{image},50.0,back,BCN_{c}{i // 2:04d},male")
            n += 1
    (root / "ISIC_2019_Training_GroundTruth.csv").write_text("\n".join(truth) + "\n")
    (root / "ISIC_2019_Training_Metadata.csv").write_text("\n".join(meta) + "\n")
    return root


ODIR_LABELS = ["['A']", "['C']", "['D']", "['G']", "['H']", "['M']", "['N']", "['O']"]


def write_odir5k(root: Path, per_class: tuple[int, ...] = (8, 8, 16, 8, 8, 8, 24, 10)) -> Path:
    """Kaggle's ODIR-5K layout: full_df.csv (columns as Kaggle's, filename and labels among them)
    and preprocessed_images/<id>_<eye>.jpg."""
    rng = np.random.default_rng(0)
    rows, n = ["ID,Patient Age,Patient Sex,N,D,G,C,A,H,M,O,filepath,labels,target,filename"], 0
    for label, count in zip(ODIR_LABELS, per_class):
        for _ in range(count):
            name = f"{n // 2}_{'left' if n % 2 else 'right'}.jpg"
            write_noise_image(root / "preprocessed_images" / name, rng, (20, 20))
            rows.append(f'{n // 2},60,Male,0,0,0,0,0,0,0,0,x/{name},"{label}","[0, 0, 0, 0, 0, 0, 0, 0]",{name}')
            n += 1
    (root / "full_df.csv").write_text("\n".join(rows) + "\n")
    return root


# --------------------------------------------------------------------------- the runs
# One or two methods a file (the full lists are checked without training below); the CAM and
# motivation notebooks reuse the benchmark's models. dermamnist keeps its own ResNet-18.
CASES = {
    "ham10000_multiclass": (write_ham10000, CNN + ["methods=[ce, rg]"]),
    "ham10000_bcc_binary": (write_ham10000, CNN + ["methods=[ce, rg]", "nmi_encoders=[raw]",
                                                   "cam_training_methods=[rg]", "cam_methods=[gradcam]", "n_images=2"]),
    "cifar100_worm": (write_cifar100, CNN + ["methods=[ce, rg-oracle]", "nmi_encoders=[raw]",
                                             "cam_training_methods=[rg-oracle]", "cam_methods=[gradcam]", "n_images=2"]),
    "cifar10_airplane": (write_cifar10, CNN + ["epochs=2",  # synchronous learning compares epochs
                                              "methods=[ce, rg]", "label_methods=[ce, rg]", "nmi_encoders=[raw]",
                                              "max_points=40", "autoencoder_epochs=1", "spread_per_class=3",
                                              "cam_training_methods=[rg]", "cam_methods=[gradcam]", "n_images=2"]),
    "chest_xray": (write_chest_xray, CNN + ["pretrained=false", "methods=[augment, {name: smote, max_memory_gb: 12.0}]",
                                            "cam_training_methods=[augment]", "cam_methods=[gradcam]", "n_images=2"]),
    "dermamnist": (write_dermamnist, ["methods=[ldam-drw]"]),
    # the LMF paper's files run their own four methods (ce, focal, ldam, lmf with margin weights)
    "lmf_ham10000": (write_ham10000, CNN + ["pretrained=false"]),
    "lmf_isic2019": (write_isic2019, CNN + ["pretrained=false"]),
    "lmf_odir5k": (write_odir5k, CNN + ["pretrained=false"]),
}
# Files whose plan is checked but which do not run end to end here: the LMF paper's ResNet-50 files
# (their fixture run, with the backbone replaced by the small CNN, is their EfficientNetV2-S file's)
# and notebook 02 at 99:1 on CIFAR-100 (not in CI).
PLAN_ONLY = {
    "lmf_ham10000_resnet50": write_ham10000,
    "lmf_isic2019_resnet50": write_isic2019,
    "lmf_odir5k_resnet50": write_odir5k,
    "cifar100_worm_sync": write_cifar100,
}
FIXTURES = {**{name: write for name, (write, _) in CASES.items()}, **PLAN_ONLY}
LMF_FILES = [name for name in FIXTURES if name.startswith("lmf_")]


def test_every_paper_file_has_a_case():
    assert sorted(FIXTURES) == sorted(p.stem for p in PARAMS.glob("*.yaml") if p.stem not in ("demo", "ci", "ablations", "study"))


def planned_jobs(name: str, tmp_path: Path) -> dict[str, dict]:
    """The runner's plan of params/NAME.yaml, notebook name -> parameters, with its data set's
    fixture as data_root (the runner checks the data files) and pretrained=false (offline)."""
    data = FIXTURES[name](tmp_path / "data")
    return {job.path.stem: job.parameters
            for job in plan(PARAMS / f"{name}.yaml", [f"data_root={data}", "pretrained=false"])[1]}


@pytest.mark.parametrize("name", FIXTURES)
def test_paper_params_hold_at_paper_scale(name, tmp_path):
    """What a paper-scale run would find out only hours in: the settings build, every method and
    its options are accepted, the other notebooks reuse the benchmark's models, the table exists."""
    jobs = planned_jobs(name, tmp_path)
    bench = jobs["03_benchmark"]
    assert bench["seeds"] == [0, 1, 2]
    assert yaml.safe_load((PARAMS / f"{name}.yaml").read_text())["parameters"]["data_root"] is None
    cfg = build(TrainConfig, {**{k: bench[k] for k in ("epochs", "batch_size", "lr", "optimizer")}, **bench["train"]}, name)
    build(ModelOptions, {"arch": bench["arch"], "pretrained": bench["pretrained"]}, name)
    check_model_options(bench["arch"], width=bench.get("width", 32), pretrained=False)  # weights: see below
    build(RegroupOptions, bench.get("regroup"), name)
    data = TrainingSet(torch.zeros(100, 1, 2, 2, dtype=torch.uint8), np.repeat([0, 1], [90, 10]))
    for entry in bench["methods"]:
        recipe = METHODS[method_spec(entry)[0]]
        rest = split_options(recipe, method_spec(entry)[1])[2]
        if recipe.resample != "none":
            assert set(rest) <= set(sampler_options(recipe.resample)), entry
        else:
            options = {**default_loss_options(recipe.loss, cfg, data), **rest}
            make_loss(recipe.loss, [90, 10], **options)
            assert options.get("drw_epoch", 0) < cfg.epochs, entry
    assert set(bench["nmi_encoders"]) <= set(ENCODERS)
    assert len(paper_results(bench["paper_dataset"])) > 0
    trained = [m for m in bench["methods"] if isinstance(m, str)]  # the same entries, so the same runs
    for notebook in ("01_motivation", "02_synchronous_learning", "04_class_activation_maps"):
        if notebook in jobs:
            assert jobs[notebook]["task_name"] in bench["tasks"]
            reused = jobs[notebook].get("label_methods") or jobs[notebook]["cam_training_methods"]
            assert set(reused) <= set(trained), notebook
            assert set(jobs[notebook].get("score_methods", [])) <= set(trained), notebook
            assert set(jobs[notebook].get("cam_methods", [])) <= set(CAM_METHODS)


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_paper_params_run_end_to_end_on_a_fixture(name, tmp_path, monkeypatch):
    monkeypatch.setenv("NBUTILS_CACHE", str(tmp_path / "cache"))  # the kernels inherit it
    write, overrides = CASES[name]
    data = write(tmp_path / "data")
    code = main([str(PARAMS / f"{name}.yaml"), f"data_root={data}", *SMALL, *overrides,
                 "--runs", str(tmp_path / "runs"), "--run-id", "ci"])
    run = next((tmp_path / "runs").iterdir()) / "ci"
    assert code == 0, json.loads((run / "summary.json").read_text())
    benchmark = next(nb["parameters"] for nb in yaml.safe_load((run / "params.yaml").read_text())["notebooks"]
                     if nb["path"].endswith("03_benchmark.ipynb"))
    methods = [m if isinstance(m, str) else m["name"] for m in benchmark["methods"]]
    metrics = json.loads((run / "metrics" / "benchmark.json").read_text())
    assert set(metrics) == {f"{task}/{method}/{metric}" for task in benchmark["tasks"] for method in methods
                            for metric in ("ba", "macro_ap")}
    assert all(0 <= v <= 1 for v in metrics.values())


@pytest.mark.parametrize("name", LMF_FILES)
def test_lmf_files_hold_the_lmf_papers_settings(name, tmp_path):
    """The LMF paper ("LMFLoss: A Hybrid Loss for Imbalanced Medical Image Classification", section 3.2) and its authors' config.ini / train.py / utils.py:
    ImageNet EfficientNetV2-S or ResNet-50 (the paper reports both; one file each), Adam 1e-4 (weight
    decay 5e-4), StepLR(30, 0.1), batch 32, 100 epochs, 224 px, a 70:15:15 split; ce, focal (gamma
    1.5), ldam (max_m 0.5, s 30) and lmf (alpha 1.5, beta 1, gamma 1.5), the LDAM margins as class
    weights of ldam, focal and both lmf terms."""
    bench = planned_jobs(name, tmp_path)["03_benchmark"]
    assert yaml.safe_load((PARAMS / f"{name}.yaml").read_text())["parameters"]["pretrained"] is True
    arch = "resnet50" if name.endswith("_resnet50") else "efficientnetv2_s"
    assert (bench["arch"], bench["image_size"]) == (arch, 224)
    assert (bench["optimizer"], bench["lr"], bench["batch_size"], bench["epochs"]) == ("adam", 1e-4, 32, 100)
    cfg = build(TrainConfig, {**{k: bench[k] for k in ("epochs", "batch_size", "lr", "optimizer")}, **bench["train"]}, name)
    assert (cfg.weight_decay, cfg.augment, cfg.select) == (5e-4, False, "best")
    lrs = lr_per_step(cfg, 1)  # one step an epoch: the rate of each epoch
    assert (lrs[29], lrs[30], lrs[59], lrs[60], lrs[89], lrs[90]) == pytest.approx((1e-4, 1e-5, 1e-5, 1e-6, 1e-6, 1e-7))
    (spec,) = bench["tasks"].values()
    test = spec["options"]["test_fraction"]
    assert (1 - test) * (1 - spec["val_fraction"]) == pytest.approx(0.70, abs=1e-4) and test == 0.15
    assert bench["paper_dataset"] in ("HAM10000", "ISIC-2019", "ODIR-5K")
    assert len(paper_results(bench["paper_dataset"]).query("source == 'lmfloss'")) == 32
    entries = {method_spec(entry)[0]: method_spec(entry)[1] for entry in bench["methods"]}
    assert sorted(entries) == ["ce", "focal", "ldam", "lmf"] and entries["ce"] == {}
    counts = [700, 200, 100]
    margins = 0.5 * (np.asarray(counts) / min(counts)) ** -0.25  # the authors' get_mlist, max_m 0.5
    focal = make_loss("focal", counts, **entries["focal"])
    ldam = make_loss("ldam", counts, **entries["ldam"])
    lmf = make_loss("lmf", counts, **entries["lmf"])
    assert focal.gamma == lmf.focal.gamma == 1.5 and (lmf.alpha, lmf.beta) == (1.5, 1.0)
    assert ldam.s == lmf.ldam.s == 30.0
    for weights in (focal.alpha, ldam.weight, lmf.ldam.weight, lmf.focal.alpha, ldam.margins, lmf.ldam.margins):
        np.testing.assert_allclose(weights.numpy(), margins, rtol=1e-6)


def test_lmf_backbones_need_their_weights_offline(tmp_path, monkeypatch):
    """pretrained: true offline without the weights fails before any training, naming the file."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    for arch in ("efficientnetv2_s", "resnet50"):
        with pytest.raises(FileNotFoundError, match=f"{arch} could not be fetched.*pretrained=false"):
            check_model_options(arch, width=32, pretrained=True)


# --------------------------------------------------------------------------- step schedule
def lr_per_step(cfg: TrainConfig, steps_per_epoch: int) -> list[float]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.lr)
    schedule = make_schedule(optimizer, cfg, steps_per_epoch)
    lrs = []
    for _ in range(cfg.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return lrs


def test_step_schedule_multiplies_by_gamma_at_each_milestone():
    # 4 epochs x 2 steps: milestones at 50% and 75% of the 8 steps = steps 4 and 6
    cfg = TrainConfig(epochs=4, lr=1.0, schedule="step", step_milestones=[0.5, 0.75], step_gamma=0.1)
    assert lr_per_step(cfg, 2) == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])
    # MedMNIST: x0.1 at epochs 50 and 75 of 100 (epoch 49 at 1.0, epoch 50 at 0.1, epoch 75 at 0.01)
    cfg = TrainConfig(epochs=100, lr=1.0, schedule="step")
    lrs = lr_per_step(cfg, 1)
    assert (lrs[49], lrs[50], lrs[74], lrs[75], lrs[99]) == pytest.approx((1, 0.1, 0.1, 0.01, 0.01))
    # after a warm-up of 1 epoch (2 steps: 0.5, 1.0), the milestone still counts all steps
    cfg = TrainConfig(epochs=4, lr=1.0, schedule="step", step_milestones=[0.5], step_gamma=0.5, warmup_epochs=1)
    assert lr_per_step(cfg, 2) == pytest.approx([0.5, 1, 1, 1, 0.5, 0.5, 0.5, 0.5])


@pytest.mark.parametrize("milestones", [[0.5, 1.5], [0], ["half"]])
def test_step_milestones_must_be_fractions(milestones):
    with pytest.raises(ValueError, match="step_milestones must be fractions of training"):
        TrainConfig(schedule="step", step_milestones=milestones)


def test_the_lmf_paper_backbones_each_have_a_file_with_the_same_settings():
    """Every LMF file has its ResNet-50 twin, identical but for the backbone (and name, description)."""
    for name in [n for n in LMF_FILES if not n.endswith("_resnet50")]:
        effnet, resnet = (yaml.safe_load((PARAMS / f"{n}.yaml").read_text()) for n in (name, f"{name}_resnet50"))
        assert (effnet["parameters"]["arch"], resnet["parameters"]["arch"]) == ("efficientnetv2_s", "resnet50")
        for params in (effnet, resnet):
            params["parameters"].pop("arch")
            params.pop("name"), params.pop("description")
        assert effnet == resnet, name
