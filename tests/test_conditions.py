"""The conditions stage on a tiny face store whose fakes carry a fine checkerboard texture, through the real
training, pruning and scoring code: the clean scores are the runs' predictions, a harmless perturbation
changes nothing, strong ones lower accuracy, the same seed writes the same bytes, FGSM is the hand
computation on a linear model, PGD stays in its ε-ball and the valid range, attacks leave BatchNorm alone,
and bad inputs are named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from deepfake_lth import paths, stages
from deepfake_lth.conditions import attacks, corruptions
from deepfake_lth.conditions.perturbations import CLEAN, all_perturbations, configured, perturbation
from deepfake_lth.conditions.robustness_file import read_robustness
from deepfake_lth.conditions.scoring import ScoredRun, Scorer, adversarial_subset, run_conditions, score_attacks
from deepfake_lth.config import robustness_models, scored_runs, validate_params
from deepfake_lth.data.face_store import FaceStore, FaceStoreWriter
from deepfake_lth.errors import ConfigError, InputError
from deepfake_lth.params_checks import study_warnings
from deepfake_lth.lottery.runner import run_level
from deepfake_lth.models.registry import build_model
from deepfake_lth.predictions import read_predictions
from deepfake_lth.report.build import build_report
from deepfake_lth.training.execution import Execution, Forward
from deepfake_lth.training.run import train_dense

SIZE = 32
GRID = {"jpeg": [100, 90, 10], "blur": [0.001, 2.0], "noise": [24.0], "resize": [0.25],
        "fgsm": [0.5, 8.0], "pgd": [0.5, 2.0, 8.0]}


def checkerboard_faces(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Smooth ramps; the fakes (odd rows) carry a ±16 checkerboard of one-pixel period, which JPEG at low
    quality, blur and resizing wipe out."""
    ramp = np.linspace(60, 190, SIZE)
    labels = np.arange(n) % 2
    faces = np.empty((n, SIZE, SIZE, 3))
    faces[..., 0], faces[..., 1], faces[..., 2] = ramp[None, None, :], ramp[None, :, None], 128.0
    faces += rng.normal(0, 6, faces.shape)
    checker = 16.0 * (np.indices((SIZE, SIZE)).sum(axis=0) % 2 * 2 - 1)[..., None]
    faces[labels == 1] += checker
    return np.clip(faces, 0, 255).astype(np.uint8), labels


def write_store(root, counts: dict[str, int]) -> None:
    rng = np.random.default_rng(0)
    for split, n in counts.items():
        faces, labels = checkerboard_faces(n, rng)
        writer = FaceStoreWriter(root / split, n, SIZE)
        for i, (face, label) in enumerate(zip(faces, labels)):
            writer.add(face, int(label), f"{split}-{label}-{i // 4}", f"{split}/{i}.png")  # two frames per video
        writer.close()


def make_params(root, **robustness) -> dict:
    return validate_params({
        "paths": {"raw": str(root / "raw"), "faces": str(root / "faces"), "results": str(root / "results")},
        "device": "cpu",
        "datasets": {"checker": {"adapter": "synthetic", "root": str(root / "raw" / "checker"),
                                 "synthetic": {"domain": "gan"}}},
        "faces": {"image_size": SIZE},
        "models": ["mesonet"],
        "seeds": [0],
        "training": {"learning_rate": 3e-3, "batch_size": 16, "max_epochs": 5, "patience": 5, "num_workers": 0,
                     "bn_recalibration": True},
        "pruning": {"rate": 0.5, "levels": 1, "methods": ["oneshot"],
                    "controls": {"methods": ["random_mask"], "ticket": "oneshot", "sparsities": [0.5]}},
        "transfer": {"pairs": []},
        "gradcam": {"models": []},
        "robustness": {**GRID, "adversarial_faces": 24, "pgd_steps": 5, "seed": 3, **robustness},
    })


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("conditions")
    params = make_params(root)
    write_store(paths.face_store_dir(params, "checker"), {"train": 96, "validation": 32, "test": 64})
    train_dense(params, "checker", "mesonet", 0)
    for method, level in scored_runs(params)[1:]:
        run_level(params, "checker", "mesonet", 0, method, level)
    written = run_conditions(params, "checker", "mesonet", 0)
    return params, written


def accuracy(scores) -> float:
    return float(np.mean((scores.p_fake >= 0.5) == scores.label))


def test_one_file_per_scored_run_beside_its_metrics(study):
    params, written = study
    job = stages.conditions_job(params, "checker", "mesonet", 0)
    assert written == list(job.outputs.values()) and len(written) == 3  # dense, one-shot L1, random mask L1
    assert all(path.name == paths.ROBUSTNESS_FILE and (path.parent / "metrics.json").is_file() for path in written)
    scores = read_robustness(written[0])
    expected = [(CLEAN, 0.0)] + [(p.name, float(s)) for p, grid in configured(params["robustness"]) for s in grid]
    assert list(scores) == expected


def test_clean_scores_are_the_runs_own_test_predictions(study):
    _, written = study
    for path in written:
        clean = read_robustness(path)[(CLEAN, 0.0)]
        test = read_predictions(path.with_name("predictions.csv"))["test"]
        assert clean.same_faces(test)
        np.testing.assert_array_equal(clean.p_fake, test.p_fake)


def test_a_harmless_perturbation_changes_nothing_and_strong_ones_lower_accuracy(study):
    _, written = study
    scores = read_robustness(written[0])  # the dense run
    clean = scores[(CLEAN, 0.0)]
    assert accuracy(clean) >= 0.9  # it learned the texture
    np.testing.assert_array_equal(scores[("blur", 0.001)].p_fake, clean.p_fake)  # a kernel of one pixel
    np.testing.assert_allclose(scores[("jpeg", 100.0)].p_fake, clean.p_fake, atol=0.05)
    assert np.array_equal(scores[("jpeg", 100.0)].p_fake >= 0.5, clean.p_fake >= 0.5)
    assert accuracy(scores[("jpeg", 10.0)]) <= accuracy(clean) - 0.2
    pgd = [accuracy(scores[("pgd", eps)]) for eps in GRID["pgd"]]
    attacked = scores[("pgd", 0.5)].index
    subset_clean = float(np.mean((clean.p_fake[attacked] >= 0.5) == clean.label[attacked]))
    assert subset_clean >= pgd[0] >= pgd[1] >= pgd[2] and pgd[2] <= subset_clean - 0.3


def test_the_attacks_score_a_seeded_class_balanced_subset(study):
    params, written = study
    scores = read_robustness(written[1])
    store = FaceStore(paths.face_store_dir(params, "checker") / "test")
    subset = adversarial_subset(store.labels, 24, 3)
    for name in ("fgsm", "pgd"):
        for eps in GRID[name]:
            np.testing.assert_array_equal(scores[(name, eps)].index, subset)
    assert np.bincount(store.labels[subset]).tolist() == [12, 12]
    assert not np.array_equal(subset, adversarial_subset(store.labels, 24, 4))


def test_the_same_seed_writes_the_same_bytes(study, tmp_path):
    params, written = study
    before = [path.read_bytes() for path in written]
    run_conditions(params, "checker", "mesonet", 0)
    assert [path.read_bytes() for path in written] == before
    faces, _ = checkerboard_faces(6, np.random.default_rng(1))
    indices = np.arange(10, 16)
    whole = corruptions.gaussian_noise(faces, 8.0, indices, seed=0)
    halves = np.concatenate([corruptions.gaussian_noise(faces[:2], 8.0, indices[:2], seed=0),
                             corruptions.gaussian_noise(faces[2:], 8.0, indices[2:], seed=0)])
    assert np.array_equal(whole, halves) and not np.array_equal(whole, corruptions.gaussian_noise(faces, 8.0, indices, 1))


def test_corruptions_do_what_their_names_say():
    faces, _ = checkerboard_faces(4, np.random.default_rng(2))
    indices = np.arange(4)
    for corrupt, severity in ((corruptions.jpeg, 30), (corruptions.gaussian_blur, 1.5),
                              (corruptions.gaussian_noise, 8.0), (corruptions.resize, 0.5)):
        out = corrupt(faces, severity, indices, 0)
        assert out.dtype == np.uint8 and out.shape == faces.shape and not np.array_equal(out, faces)
    import cv2

    ok, encoded = cv2.imencode(".jpg", faces[0][..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 30])
    assert np.array_equal(corruptions.jpeg(faces[:1], 30, indices[:1], 0)[0], cv2.imdecode(encoded, 1)[..., ::-1])
    assert np.array_equal(corruptions.resize(faces, 1.0 - 1e-9, indices, 0), faces)
    noise = corruptions.gaussian_noise(np.full((1, 64, 64, 3), 128, np.uint8), 8.0, np.array([0]), 0).astype(float) - 128
    assert abs(noise.std() - 8.0) < 0.4 and abs(noise.mean()) < 0.3


class Linear(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: float):
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(torch.tensor(bias))

    def forward(self, x):
        return (x.flatten(1) * self.weight.flatten()).sum(1, keepdim=True) + self.bias


def test_fgsm_is_the_hand_computation_on_a_linear_model():
    torch.manual_seed(0)
    x = torch.rand(6, 3, 4, 4)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    model = Linear(torch.randn(3, 4, 4), 0.1)
    eps = 4 / 255
    adversarial = attacks.fgsm(model, x, labels, eps, np.arange(6), 0, 1)
    with torch.no_grad():
        z = model(x).reshape(-1)
    # d BCE / d x = (sigmoid(z) - y) w: its sign is the step
    direction = torch.sign((torch.sigmoid(z) - labels)[:, None] * model.weight.detach().flatten()[None, :]).reshape(x.shape)
    torch.testing.assert_close(adversarial, (x + eps * direction).clamp(0, 1))
    assert (model(adversarial).reshape(-1) - z).mul(1 - 2 * labels).min() > 0  # each logit moved the wrong way


def test_pgd_stays_in_its_epsilon_ball_and_the_pixel_range():
    torch.manual_seed(1)
    model = build_model("mesonet", SIZE).eval()
    x = torch.rand(8, 3, SIZE, SIZE)
    x[:2] = x[:2].round()  # pixels at 0 and 1, where the ball leaves the valid range
    labels = torch.arange(8) % 2
    for eps in (0.5 / 255, 8 / 255):
        adversarial = attacks.pgd(model, x, labels, eps, np.arange(8), 0, 7)
        assert adversarial.min() >= 0 and adversarial.max() <= 1
        assert (adversarial - x).abs().max() <= eps + 1e-6
        assert (adversarial - x).abs().max() > eps / 2  # it moved
    again = attacks.pgd(model, x, labels, 8 / 255, np.arange(8), 0, 7)
    assert torch.equal(again, attacks.pgd(model, x, labels, 8 / 255, np.arange(8), 0, 7))


def test_attacks_run_the_model_in_eval_mode(study):
    params, _ = study
    store = FaceStore(paths.face_store_dir(params, "checker") / "test")
    network = build_model("mesonet", SIZE)
    network.train()  # as a careless caller might leave it
    buffers = {k: v.clone() for k, v in network.state_dict().items() if "running" in k or "num_batches" in k}
    execution = Execution("fp32", False, True, False)
    run = ScoredRun("dense", network, Forward(network, execution, torch.device("cpu")), None, [])
    attacked = [(perturbation("pgd"), [8.0]), (perturbation("fgsm"), [8.0])]
    score_attacks([run], store, attacked, Scorer(params, torch.device("cpu")), params["robustness"])
    assert not network.training
    assert all(torch.equal(network.state_dict()[k], v) for k, v in buffers.items())
    assert [(name, severity) for name, severity, *_ in run.scored] == [("pgd", 8.0), ("fgsm", 8.0)]


def test_the_job_declares_every_scored_runs_weights_and_mask(study):
    params, _ = study
    job = stages.conditions_job(params, "checker", "mesonet", 0)
    runs = scored_runs(params)
    assert job.inputs["weights"] == tuple(
        paths.dense_outputs(params, "checker", "mesonet", 0)["final"] if level == 0 else
        paths.level_outputs(params, "checker", "mesonet", 0, method, level)["final"] for method, level in runs)
    assert job.inputs["masks"] == tuple(paths.level_outputs(params, "checker", "mesonet", 0, method, level)["mask"]
                                        for method, level in runs if level)
    assert "robustness" in job.params_keys
    # the perturbations' modules are imported by name when the job runs: DVC lists them as its code
    assert {"src/deepfake_lth/conditions/corruptions.py", "src/deepfake_lth/conditions/attacks.py"} <= set(job.code_paths())


def test_a_missing_ticket_is_named(study, tmp_path):
    params, _ = study
    moved = make_params(tmp_path)
    moved["paths"] = {**params["paths"], "results": str(tmp_path / "elsewhere")}
    with pytest.raises(InputError, match="final.pt: input not found"):
        run_conditions(moved, "checker", "mesonet", 0)


def test_a_damaged_robustness_file_is_named(tmp_path):
    path = tmp_path / "robustness.csv"
    path.write_text("perturbation,severity,index,group,label,p_fake\nclean,0,0,g,1,1.5\n")
    with pytest.raises(InputError, match=r"robustness.csv: line 2"):
        read_robustness(path)
    path.write_text("split,index,group,label,p_fake\n")
    with pytest.raises(InputError, match="not a robustness file"):
        read_robustness(path)


def test_severity_grids_are_checked_and_default_from_the_registry(tmp_path):
    params = make_params(tmp_path)
    with pytest.raises(ConfigError, match="robustness.jpeg.0"):
        make_params(tmp_path, jpeg=[0])
    with pytest.raises(ConfigError, match="robustness.resize.0"):
        make_params(tmp_path, resize=[1.5])
    with pytest.raises(ConfigError, match="robustness.models.0"):
        make_params(tmp_path, models=["resnet"])
    narrowed = make_params(tmp_path, models=["mesonet", "resnet18"])  # a study narrowed to fewer models
    assert robustness_models(narrowed) == ["mesonet"]
    assert any("robustness.models': resnet18 not in models" in w for w in study_warnings(narrowed, "params.yaml"))
    defaults = validate_params({**{k: v for k, v in params.items() if k != "robustness"}})["robustness"]
    assert {p.name: defaults[p.name] for p in all_perturbations()} == {p.name: list(p.default) for p in all_perturbations()}
    assert perturbation("jpeg").strongest([90, 10, 50]) == 10 and perturbation("pgd").strongest([1, 8, 2]) == 8
    no_conditions = make_params(tmp_path, **{name: [] for name in GRID})
    assert not any(job.rule == "conditions" for job in stages.study(no_conditions))


def test_the_report_gives_the_table_figure_and_claims_from_the_files(study):
    params, written = study
    built = build_report(params)
    results = Path(params["paths"]["results"])
    table = pd.read_csv(results / "tables" / "robustness.csv")
    assert list(table.columns[:11]) == ["dataset", "model", "seed", "method", "level", "perturbation", "severity",
                                        "accuracy", "ci_low", "ci_high", "auc"]
    for path, method in zip(written, ("dense", "oneshot", "random_mask")):
        scores = read_robustness(path)
        for (name, severity), scored in scores.items():
            if name == CLEAN:
                continue
            row = table[(table.method == method) & (table.perturbation == name) & (table.severity == severity)].iloc[0]
            assert row.accuracy == accuracy(scored) and row.n_faces == len(scored)
            assert row.ci_low <= row.accuracy <= row.ci_high
            reference = table[(table.method == method) & (table.perturbation == name) & (table.severity == 0)].iloc[0]
            assert row["drop"] == pytest.approx(row.accuracy - reference.accuracy)
    assert (table[table.perturbation == "jpeg"].groupby("method").severity.min() == 0).all()  # each has its reference
    assert "results/figures/fig_robustness_checker.png" in [str(Path(p).relative_to(results.parent)) for p in built["figures"]]
    claims = pd.read_csv(results / "tables" / "claims.csv", keep_default_na=False)
    robust = claims[claims.key.str.startswith("ticket_robust_")]
    assert set(robust.key) == {f"ticket_robust_{name}" for name in GRID}
    jpeg = robust[(robust.key == "ticket_robust_jpeg")].iloc[0]
    assert "JPEG re-compression (quality 10" in jpeg.claim and jpeg.test == "non-inferiority"
    dense_drop = table[(table.method == "dense") & (table.perturbation == "jpeg") & (table.severity == 10)]["drop"].iloc[0]
    ticket_drop = table[(table.method == "oneshot") & (table.perturbation == "jpeg") & (table.severity == 10)]["drop"].iloc[0]
    assert float(jpeg.delta_pct) == pytest.approx(100 * (ticket_drop - dense_drop))
    assert jpeg.verdict in ("holds", "fails", "inconclusive") and float(jpeg.ci_low) <= float(jpeg.delta_pct) <= float(jpeg.ci_high)
    summary = pd.read_csv(results / "tables" / "claims_summary.csv")
    assert set(summary.key) >= set(robust.key)
    assert "## Robustness (beyond the paper)" in (results / "report.md").read_text()
