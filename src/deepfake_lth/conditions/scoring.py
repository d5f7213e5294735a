"""The conditions stage: one setting's (dataset x model x seed) dense run and its runs at the controls'
levels, scored on the test faces clean and under every configured perturbation (robustness.csv beside
each run), and on the test faces of every dataset of generalization.datasets (generalization.csv; its own
dataset's rows are the clean scores).

Each run is its final weights with its mask applied (pruned weights exact zeros), in eval mode, called
as its training job evaluated it (the same precision, layout and batch size: its clean scores are its
predictions.csv's test scores). A corruption is applied once per face batch and scored by every run; an
attack is made per run, on a seeded, class-balanced subset of the test faces (robustness.adversarial_faces),
the same subset for every run, model and seed of the dataset, so every comparison is paired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deepfake_lth import phases, stages
from deepfake_lth.conditions.generalization_file import write_generalization
from deepfake_lth.conditions.perturbations import CLEAN, configured
from deepfake_lth.conditions.robustness_file import write_robustness
from deepfake_lth.config import conditions_files, generalization_datasets, robustness_models, scored_runs
from deepfake_lth.paths import GENERALIZATION_FILE, ROBUSTNESS_FILE
from deepfake_lth.data.face_store import FaceStore, normalise
from deepfake_lth.device import choose_device, use_torch_threads
from deepfake_lth.errors import InputError
from deepfake_lth.io import load_tensors
from deepfake_lth.models.masking import check_mask, masked_state
from deepfake_lth.models.registry import build_model, load_weights, prunable_parameter_names
from deepfake_lth.training.execution import Forward, configure_kernels, prepare_model, resolve_execution

log = logging.getLogger(__name__)

READ_CHUNK = 1024  # test faces read and corrupted at once: bounds memory at any test-set size


@dataclass
class ScoredRun:
    """One run as the stage scores it: its network, how it is called, and its rows so far."""

    name: str  # "dense" or "<method> level <L>"
    network: nn.Module
    forward: Forward
    folder: Path  # its run's folder: the files are written beside its metrics.json
    scored: list  # (perturbation, severity, indices, groups, labels, p_fake) per condition
    tested: list = field(default_factory=list)  # (tested_on, indices, groups, labels, p_fake) per other dataset


class Scorer:
    """Normalisation, batch size and device of the job: faces (uint8 NHWC, or float NCHW in [0, 1]) to
    each run's fake probabilities."""

    def __init__(self, params: dict, device: torch.device):
        norm = params["normalization"]
        self.mean = torch.tensor(norm["mean"], dtype=torch.float32, device=device).view(3, 1, 1)
        self.std = torch.tensor(norm["std"], dtype=torch.float32, device=device).view(3, 1, 1)
        self.batch_size, self.device = params["training"]["batch_size"], device

    def inputs(self, faces: np.ndarray) -> torch.Tensor:
        """uint8 faces as the model's normalised input: FaceDataset's formula, bit for bit."""
        images = torch.from_numpy(faces).permute(0, 3, 1, 2).contiguous().to(self.device)
        return normalise(images, self.mean * 255.0, self.std * 255.0)

    def logits_of(self, forward: Forward):
        """faces in [0, 1] (N x 3 x H x W) -> logits, through the normalisation (differentiable: attacks)."""
        return lambda unit_faces: forward((unit_faces - self.mean) / self.std)

    @torch.no_grad()
    def probabilities(self, forward: Forward, inputs: torch.Tensor) -> np.ndarray:
        """The fake probability of each input, in batches of training.batch_size, computed as
        training.loop.score does (float64 sigmoid of the logits)."""
        logits = torch.cat([forward(inputs[start:start + self.batch_size]).reshape(-1).double().cpu()
                            for start in range(0, len(inputs), self.batch_size)])
        return 1.0 / (1.0 + np.exp(-logits.numpy()))


def load_run(model: str, image_size: int, weights: Path, mask: Path | None, device: torch.device,
             execution) -> nn.Module:
    """The run's network: final.pt with its mask applied (refused when the mask does not fit), in eval
    mode, its parameters frozen (attacks take gradients of the faces only)."""
    network = build_model(model, image_size, weights=None)
    load_weights(network, weights)
    if mask is not None:
        names = prunable_parameter_names(network)
        keep = check_mask(load_tensors(mask), network, names, str(mask))
        network.load_state_dict(masked_state(network.state_dict(), keep))
    network = prepare_model(network, execution, device).eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def adversarial_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Store indices of a class-balanced subset of `size` test faces (half per class, or all of a class
    that has fewer), drawn with `seed`, in store order."""
    rng = np.random.default_rng([seed, 0])
    chosen = []
    for label in (0, 1):
        members = np.flatnonzero(labels == label)
        take = min(size // 2 + (size % 2 if label else 0), len(members))
        chosen.extend(rng.choice(members, size=take, replace=False).tolist())
    return np.sort(np.asarray(chosen, dtype=np.int64))


def score_corruptions(runs: list[ScoredRun], store: FaceStore, conditions: list, scorer: Scorer, seed: int) -> None:
    """Every run on every test face, clean and under each corruption severity (`conditions`: a list of
    (perturbation, grid)); faces are read and corrupted one chunk at a time."""
    grid = [(CLEAN, 0, None)] + [(p.name, s, p.function()) for p, severities in conditions for s in severities]
    collected = {(run.name, name, severity): [] for run in runs for name, severity, _ in grid}
    for start in range(0, len(store), READ_CHUNK):
        indices = np.arange(start, min(start + READ_CHUNK, len(store)))
        faces = store.read(indices)
        for name, severity, corrupt in grid:
            inputs = scorer.inputs(faces if corrupt is None else corrupt(faces, severity, indices, seed))
            for run in runs:
                collected[(run.name, name, severity)].append(scorer.probabilities(run.forward, inputs))
    every = np.arange(len(store))
    for run in runs:
        for name, severity, _ in grid:
            p_fake = np.concatenate(collected[(run.name, name, severity)])
            run.scored.append((name, severity, every, store.groups, store.labels, p_fake))


def score_attacks(runs: list[ScoredRun], store: FaceStore, attacks: list, scorer: Scorer, robustness: dict) -> None:
    """Every run on the adversarial subset, under each attack and ε (`attacks`: (perturbation, grid)),
    in batches of training.batch_size; the network stays in eval mode (BatchNorm statistics unchanged)."""
    if not attacks:
        return
    subset = adversarial_subset(store.labels, robustness["adversarial_faces"], robustness["seed"])
    faces = store.read(subset)
    unit_faces = torch.from_numpy(faces).permute(0, 3, 1, 2).float().div(255.0).to(scorer.device)
    labels = torch.from_numpy(store.labels[subset]).to(scorer.device)
    for run in runs:
        run.network.eval()
        logits_of = scorer.logits_of(run.forward)
        for perturbation, severities in attacks:
            attack = perturbation.function()
            for severity in severities:
                adversarial = torch.cat([
                    attack(logits_of, unit_faces[a:a + scorer.batch_size], labels[a:a + scorer.batch_size],
                           severity / 255.0, subset[a:a + scorer.batch_size], robustness["seed"],
                           robustness["pgd_steps"])
                    for a in range(0, len(subset), scorer.batch_size)])
                p_fake = scorer.probabilities(run.forward, (adversarial - scorer.mean) / scorer.std)
                run.scored.append((perturbation.name, severity, subset, store.groups[subset], store.labels[subset],
                                   p_fake))


def score_tested(runs: list[ScoredRun], store: FaceStore, scorer: Scorer, tested_on: str) -> None:
    """Every run on every test face of another dataset, as they are (no re-thresholding on the target)."""
    collected = {run.name: [] for run in runs}
    for start in range(0, len(store), READ_CHUNK):
        inputs = scorer.inputs(store.read(np.arange(start, min(start + READ_CHUNK, len(store)))))
        for run in runs:
            collected[run.name].append(scorer.probabilities(run.forward, inputs))
    for run in runs:
        run.tested.append((tested_on, np.arange(len(store)), store.groups, store.labels,
                           np.concatenate(collected[run.name])))


def test_store(store_dir: Path, image_size: int) -> FaceStore:
    """The test split of a face store, refused when empty or of another face size."""
    store = FaceStore(Path(store_dir) / "test")
    if len(store) == 0:
        raise InputError(f"{store.split_dir}: the face store split is empty")
    if store.images.shape[1:3] != (image_size, image_size):
        raise InputError(f"{store.split_dir}: faces of {store.images.shape[1]} px, params faces.image_size is {image_size}")
    return store


def run_conditions(params: dict, dataset: str, model: str, seed: int) -> list[Path]:
    """Conditions stage: from the inputs of its job in the stage table, write robustness.csv and
    generalization.csv (config.conditions_files) beside each scored run; return the files written."""
    job = stages.conditions_job(params, dataset, model, seed)
    for path in (*job.inputs["weights"], *job.inputs["masks"]):
        if not Path(path).is_file():
            raise InputError(f"{path}: input not found (its stage must run first)")
    image_size = params["faces"]["image_size"]
    store = test_store(job.inputs["faces"], image_size)
    tested = dict(zip([d for d in generalization_datasets(params) if d != dataset],
                      job.inputs["tested"]))  # the job's inputs: every other dataset, when the model is scored on them
    others = {name: test_store(folder, image_size) for name, folder in tested.items()}
    device = choose_device(params.get("device", "auto"))
    use_torch_threads(params)
    execution = resolve_execution(params["training"], device, model)
    configure_kernels(execution, device)
    masks = iter(job.inputs["masks"])
    runs = []
    for (method, level), weights in zip(scored_runs(params), job.inputs["weights"]):
        network = load_run(model, image_size, weights, next(masks) if level else None, device, execution)
        runs.append(ScoredRun(method if level == 0 else f"{method} level {level}", network,
                              Forward(network, execution, device), Path(weights).parent, [], []))
    phases.mark("model")
    perturbations = configured(params["robustness"]) if model in robustness_models(params) else []
    scorer = Scorer(params, device)
    score_corruptions(runs, store, [c for c in perturbations if not c[0].attack], scorer, params["robustness"]["seed"])
    phases.mark("corruptions")
    score_attacks(runs, store, [c for c in perturbations if c[0].attack], scorer, params["robustness"])
    phases.mark("attacks")
    for name, other in others.items():
        score_tested(runs, other, scorer, name)
    phases.mark("other datasets")
    written = [write_files(run, dataset, generalization_datasets(params), conditions_files(params)) for run in runs]
    log.info("%s/%s seed %s: %d runs under %d perturbations and on %d other datasets", dataset, model, seed, len(runs),
             len(perturbations), len(others))
    phases.mark("writes")
    return [path for files in written for path in files]


def write_files(run: ScoredRun, dataset: str, tested: list[str], files: list[str]) -> list[Path]:
    """The run's robustness.csv and generalization.csv, as `files` names them: the tested datasets in params
    order, its own dataset's rows its clean scores (the first condition scored)."""
    written = []
    if ROBUSTNESS_FILE in files:
        write_robustness(run.folder / ROBUSTNESS_FILE, run.scored)
        written.append(run.folder / ROBUSTNESS_FILE)
    if GENERALIZATION_FILE in files:
        own = (dataset, *run.scored[0][2:])  # (clean, 0, indices, groups, labels, p_fake)
        by_name = {row[0]: row for row in [own, *run.tested]}
        write_generalization(run.folder / GENERALIZATION_FILE, [by_name[name] for name in tested if name in by_name])
        written.append(run.folder / GENERALIZATION_FILE)
    return written
