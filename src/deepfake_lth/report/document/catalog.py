"""What each file of results/figures/ and results/tables/ is: its caption, and where the HTML report
(`snakemake --report`) files it: a category by pipeline stage, a subcategory by dataset and model.

Both reports read this: build.py captions report.md's figures with it, the report rule's report()
flags place and label the same files with it. Torch- and pandas-free: the Snakefile imports it while
parsing.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_lth.models.registry import model_label
from deepfake_lth.paths import TRANSFER_SEPARATOR

FIGURES = {
    "fig1_teaser": "Fig. 1: dense models against their tickets",
    "fig2_accuracy_vs_sparsity": "Fig. 2: test accuracy against sparsity",
    "fig_transfer": "Transfer: tickets from one dataset trained on another",
}
GRADCAM_FIGURE = "fig3_gradcam"  # the paper's Fig. 3; one more grid per dataset and model: fig3_gradcam_<d>_<m>
GRADCAM_CAPTION = "Fig. 3: Grad-CAM of the dense model and its tickets"
RUNS_TABLE = "accuracy_vs_sparsity"  # tables/accuracy_vs_sparsity.csv: one row per run, the data of `dvc plots`
RUNS_TITLE = "Every in-domain run, one row per metrics file"

TICKETS, ANATOMY, TRANSFER, GRADCAM, ROBUSTNESS, GENERALIZATION, DEPLOYMENT, PAPER, STUDY = (
    "Lottery tickets (dense, IMP, one-shot, controls)", "Anatomy of a ticket (layers, overlap)", "Transfer",
    "Grad-CAM", "Robustness (perturbations, attacks)", "Generalization (unseen datasets and manipulations)",
    "Deployment (size, latency)", "The paper beside ours", "Study",
)
CATEGORIES = (PAPER, TICKETS, ANATOMY, TRANSFER, GRADCAM, ROBUSTNESS, GENERALIZATION, DEPLOYMENT,
              STUDY)  # in reading order
ROBUSTNESS_FIGURE, ROBUSTNESS_TABLE = "fig_robustness", "robustness"  # one figure per dataset: fig_robustness_<dataset>
GENERALIZATION_FIGURE, GENERALIZATION_TABLE = "fig_generalization", "generalization"  # one figure per model
DEPLOYMENT_FIGURE, DEPLOYMENT_TABLE = "fig_deployment", "deployment"  # one figure per model
# The timing the deployment figure and report.md's account read (runtime, threads): one core, as a small detector
# is deployed; tables/deployment has every runtime and thread count.
DEPLOYMENT_TIMING = ("onnxruntime", 1)
# Beyond the paper, one figure per model: <name>_<model>
LAYER_FIGURE, OVERLAP_FIGURE, OVERLAP_TABLE = "fig_layer_sparsity", "fig_mask_overlap", "mask_overlap"
PER_MODEL_FIGURES = {LAYER_FIGURE: "Where each method prunes, layer by layer",
                     OVERLAP_FIGURE: "How many kept weights two tickets share"}
EVERYTHING = "All datasets and models"
# Tables by name prefix (the tables' names are fixed by tables/run_tables.py; transfer and Grad-CAM by role below).
TABLE_CATEGORY = {OVERLAP_TABLE: ANATOMY, ROBUSTNESS_TABLE: ROBUSTNESS, GENERALIZATION_TABLE: GENERALIZATION,
                  DEPLOYMENT_TABLE: DEPLOYMENT,
                  "table1_": TICKETS, "table2_": TICKETS, "table3_": TICKETS, "table6_": TICKETS, RUNS_TABLE: TICKETS,
                  "comparisons": TICKETS, "claims": PAPER, "table5_": PAPER, "table7_": GRADCAM}
TRANSFER_TABLE = "table4_transfer_"


def per_model_figure(figure: str, model: str) -> str:
    return f"{figure}_{model}"


def _per_model(name: str) -> tuple[str, str] | None:
    """(figure, model) of a per-model figure's name, else None."""
    figure = next((f for f in PER_MODEL_FIGURES if name.startswith(f + "_")), None)
    return (figure, name[len(figure) + 1:]) if figure else None


def per_model_caption(figure: str, model: str) -> str:
    return f"{PER_MODEL_FIGURES[figure]} ({model_label(model)})"


def robustness_figure_name(dataset: str) -> str:
    return f"{ROBUSTNESS_FIGURE}_{dataset}"


def robustness_caption(dataset: str) -> str:
    return f"Robustness: accuracy against perturbation severity ({dataset})"


def generalization_figure_name(model: str) -> str:
    return f"{GENERALIZATION_FIGURE}_{model}"


def generalization_caption(model: str) -> str:
    return f"Generalization: AUC on each dataset's test faces, dense against its ticket ({model_label(model)})"


def deployment_figure_name(model: str) -> str:
    return f"{DEPLOYMENT_FIGURE}_{model}"


def deployment_caption(model: str) -> str:
    runtime, threads = DEPLOYMENT_TIMING
    return (f"Deployment: test accuracy against latency (batch 1, {runtime}, {threads} thread"
            f"{'' if threads == 1 else 's'}) and against size on disk (the sparse format, compressed) "
            f"({model_label(model)})")


def gradcam_figure_name(dataset: str, model: str) -> str:
    return f"{GRADCAM_FIGURE}_{dataset}_{model}"


def gradcam_caption(dataset: str, model: str, main: bool = False) -> str:
    """The paper's Fig. 3 (`main`), or the grid of one dataset and model."""
    setting = f"{dataset}, {model_label(model)}"
    return f"{GRADCAM_CAPTION} ({setting})" if main else f"Grad-CAM grid, {setting}"


def _gradcam_setting(name: str) -> tuple[str, str]:
    """fig3_gradcam_<dataset>_<model> -> (dataset, model); model names hold no underscore, datasets may."""
    dataset, model = name[len(GRADCAM_FIGURE) + 1:].rsplit("_", 1)
    return dataset, model


def placement(name: str) -> tuple[str, str]:
    """(category, subcategory) of a figure or table file named `name` (no extension) in the HTML report."""
    if name in FIGURES:
        return (TRANSFER, "All pairs") if name == "fig_transfer" else (TICKETS, EVERYTHING)
    if name == GRADCAM_FIGURE:
        return GRADCAM, "Fig. 3"
    if name.startswith(GRADCAM_FIGURE + "_"):
        dataset, model = _gradcam_setting(name)
        return GRADCAM, f"{dataset} · {model_label(model)}"
    if _per_model(name):
        return ANATOMY, model_label(_per_model(name)[1])
    if name.startswith(ROBUSTNESS_FIGURE + "_"):
        return ROBUSTNESS, name[len(ROBUSTNESS_FIGURE) + 1:]
    if name.startswith(GENERALIZATION_FIGURE + "_"):
        return GENERALIZATION, model_label(name[len(GENERALIZATION_FIGURE) + 1:])
    if name.startswith(DEPLOYMENT_FIGURE + "_"):
        return DEPLOYMENT, model_label(name[len(DEPLOYMENT_FIGURE) + 1:])
    if name.startswith(TRANSFER_TABLE):
        source, target = name[len(TRANSFER_TABLE):].split(TRANSFER_SEPARATOR)
        return TRANSFER, f"{source} → {target}"
    category = next((c for prefix, c in TABLE_CATEGORY.items() if name.startswith(prefix)), STUDY)
    return category, EVERYTHING


def title(name: str, tables: str | Path) -> str:
    """A figure's caption; a table's title as its Markdown file in `tables` states it (tables/run_tables.py writes it)."""
    if name in FIGURES:
        return FIGURES[name]
    if name == GRADCAM_FIGURE:
        return GRADCAM_CAPTION
    if name.startswith(GRADCAM_FIGURE + "_"):
        return gradcam_caption(*_gradcam_setting(name))
    if _per_model(name):
        return per_model_caption(*_per_model(name))
    if name.startswith(ROBUSTNESS_FIGURE + "_"):
        return robustness_caption(name[len(ROBUSTNESS_FIGURE) + 1:])
    if name.startswith(GENERALIZATION_FIGURE + "_"):
        return generalization_caption(name[len(GENERALIZATION_FIGURE) + 1:])
    if name.startswith(DEPLOYMENT_FIGURE + "_"):
        return deployment_caption(name[len(DEPLOYMENT_FIGURE) + 1:])
    if name == RUNS_TABLE:
        return RUNS_TITLE
    markdown = Path(tables, f"{name}.md")
    first = markdown.read_text().split("\n", 1)[0] if markdown.is_file() else ""
    return first.strip("*") or name


# How a result's format reads in the HTML report's list: one label only, since Snakemake turns a second
# label with two values into a toggle (and would hide the table behind its CSV).
FORMATS = {"html": "table", "csv": "CSV, to download", "png": "PNG"}


def labels(name: str, ext: str, tables: str | Path) -> dict[str, str]:
    """The HTML report's label of the file `name`.`ext`: its title and format."""
    return {"result": f"{title(name, tables)} ({FORMATS.get(ext, ext.upper())})"}
