"""The report stage: results/tables/, results/figures/ and results/report.md from the metrics and Grad-CAM files."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from deepfake_lth import paths, stages
from deepfake_lth.errors import InputError
from deepfake_lth.io import atomic_dir, atomic_path, remove_stale_temporaries
from deepfake_lth.models.registry import model_names, model_spec
from deepfake_lth.report import paper
from deepfake_lth.report.anatomy.ticket_anatomy import Anatomy
from deepfake_lth.report.collect import collect_gradcam, collect_metrics, sort_report_inputs
from deepfake_lth.report.document import catalog
from deepfake_lth.report.document.report_md import (
    deployment_section, generalization_section, render_report, robustness_section,
)
from deepfake_lth.report.figures import study_figures as plots
from deepfake_lth.report.figures.deployment_figures import deployment_figure, error_bar_note
from deepfake_lth.report.figures.generalization_figures import generalization_figure
from deepfake_lth.report.figures.plotting import band_note
from deepfake_lth.report.figures.robustness_figures import robustness_figure
from deepfake_lth.report.roles import Roles, data_kind, dataset_roles
from deepfake_lth.report.statistics.deployment import Deployment
from deepfake_lth.report.statistics.generalization import Generalization, generalization_comparisons
from deepfake_lth.report.statistics.intervals import Intervals, add_run_intervals, study_intervals
from deepfake_lth.report.statistics.robustness import Robustness, claim_comparisons
from deepfake_lth.report.summary import in_domain, ordered, sort_rows
from deepfake_lth.report.tables.deployment_table import deployment_table
from deepfake_lth.report.tables.formats import to_html, write_table
from deepfake_lth.report.tables.generalization_table import generalization_table
from deepfake_lth.report.tables.robustness_table import robustness_table
from deepfake_lth.report.tables.run_tables import build_tables

log = logging.getLogger(__name__)

RUNS_CSV = f"{catalog.RUNS_TABLE}.csv"
RUNS_COLUMNS = [
    "dataset", "model", "method", "level", "seed", "nominal_sparsity", "sparsity",
    "test_accuracy", "test_accuracy_ci_low", "test_accuracy_ci_high",
    "test_auc", "test_auc_ci_low", "test_auc_ci_high", "test_eer", "test_eer_ci_low", "test_eer_ci_high",
    "test_video_accuracy", "test_video_accuracy_ci_low", "test_video_accuracy_ci_high",
    "test_video_auc", "test_video_auc_ci_low", "test_video_auc_ci_high", "remaining_weights", "collapsed_layers",
    "constant_predictions",
]


def build_report(params: dict) -> dict:
    """Write every table (CSV, Markdown, LaTeX) into results/tables/, every figure (params
    report.formats) into results/figures/, and results/report.md; return the written paths.

    Reads exactly the metrics.json and gradcam.json files (with the grid image beside each), and the
    robustness, generalization and deployment files, of the study params declares: its report job's inputs
    in the stage table. Declared files not yet made
    and undeclared result files left on disk are named in report.md and read by nothing. Raises
    InputError when no declared metrics file exists. Each folder is replaced whole, figures last.
    """
    outputs = paths.report_outputs(params)
    stale = [tmp for output in outputs.values() for tmp in remove_stale_temporaries(output)]
    if stale:
        log.info("removed %d temporaries left by an interrupted report job: %s", len(stale), ", ".join(map(str, stale)))
    inputs = sort_report_inputs(stages.study(params)[-1], paths.result_files_on_disk(params))
    frame = collect_metrics(inputs.metrics, params["paths"]["results"])
    intervals = study_intervals(frame, inputs.predictions, params["statistics"])
    frame = add_run_intervals(frame, intervals)
    records = collect_gradcam(inputs.gradcam)
    roles = dataset_roles(params, ordered(in_domain(frame)["dataset"], list(params.get("datasets", {}))))
    anatomy = Anatomy.of(frame, params)
    robustness = Robustness.of(intervals, in_domain(frame), inputs.robustness)
    generalization = Generalization.of(intervals, in_domain(frame), inputs.generalization)
    deployment = Deployment.of(intervals, in_domain(frame), inputs.deployment)
    more_comparisons = [c for c in (claim_comparisons(robustness.pooled, params),
                                    generalization_comparisons(generalization.pooled)) if not c.empty]
    tables = build_tables(frame, records, params, roles, intervals,
                          pd.concat(more_comparisons, ignore_index=True) if more_comparisons else None)
    tables += anatomy.tables() + [t for t in [robustness_table(robustness.per_seed, robustness.pooled, params),
                                              generalization_table(generalization, params),
                                              deployment_table(deployment, params)] if t]
    log.info("%d metrics files, %d Grad-CAM records, %d tables; %d declared files not found, %d undeclared ignored",
             len(frame), len(records), len(tables), len(inputs.missing), len(inputs.ignored))
    for mask in inputs.damaged:
        log.warning("%s: mask not found, though its run's metrics.json is there: its overlap pairs are left out", mask)

    with atomic_dir(outputs["tables"]) as folder:
        for table in tables:
            write_table(table, folder)
        write_runs_csv(frame, params, folder / RUNS_CSV)
    with atomic_dir(outputs["figures"]) as folder:
        figures = draw_figures(frame, records, params, roles, folder, intervals, anatomy, robustness, generalization,
                               deployment)
        with atomic_path(outputs["report"]) as tmp:
            tmp.write_text(render_report(params, frame, records, tables, figures, roles, inputs, intervals,
                                         anatomy.section(), robustness_section(robustness, params),
                                         generalization_section(generalization, params),
                                         deployment_section(deployment)))
    return {
        "tables": sorted(str(p) for p in outputs["tables"].iterdir()),
        "figures": sorted(str(p) for p in outputs["figures"].iterdir()),
        "report": str(outputs["report"]),
    }


def write_runs_csv(frame: pd.DataFrame, params: dict, path: Path) -> None:
    """One row per in-domain metrics file, values as written there (fractions): the data of `dvc plots`
    (and an HTML page of it beside)."""
    runs = sort_rows(in_domain(frame)[RUNS_COLUMNS].sort_values("seed", kind="stable"), params)
    runs.to_csv(path, index=False)
    path.with_suffix(".html").write_text(to_html(runs, catalog.RUNS_TITLE))  # what the HTML report shows


def draw_figures(frame, records, params, roles: Roles, folder: Path, intervals: Intervals,
                 anatomy: Anatomy | None = None, robustness: Robustness | None = None,
                 generalization: Generalization | None = None,
                 deployment: Deployment | None = None) -> dict[str, dict]:
    """Draw every figure the results allow into `folder`; map figure name -> {caption, files (relative
    to results/)}, in report order."""
    formats = params.get("report", {}).get("formats", ["png", "pdf"])
    subtitle = _subtitle(params, frame)
    drawers = {"fig1_teaser": plots.teaser, "fig2_accuracy_vs_sparsity": plots.accuracy_vs_sparsity,
               "fig_transfer": plots.transfer_accuracy}
    drawn = [(name, caption, lambda d=drawers[name]: d(frame, params, subtitle, intervals))
             for name, caption in catalog.FIGURES.items()]
    main = _paper_gradcam_record(records, roles)
    for record in sorted(records, key=lambda r: (r is not main, r["dataset"], r["model"])):
        draw = (lambda r=record: _gradcam_figure(r, params, subtitle))
        setting = (record["dataset"], record["model"])
        if record is main:
            drawn.append((catalog.GRADCAM_FIGURE, catalog.gradcam_caption(*setting, main=True), draw))
        drawn.append((catalog.gradcam_figure_name(*setting), catalog.gradcam_caption(*setting), draw))
    if anatomy is not None:
        drawn += anatomy.figures([m for m in params["models"] if m in set(frame["model"])], subtitle)
    for dataset in robustness.datasets() if robustness is not None else []:
        drawn.append((catalog.robustness_figure_name(dataset), catalog.robustness_caption(dataset),
                      lambda d=dataset: robustness_figure(robustness.pooled, d, params, subtitle,
                                                          band_note(robustness.per_seed))))
    ticket = params["pruning"]["controls"]["ticket"]
    for model in generalization.models() if generalization is not None else []:
        drawn.append((catalog.generalization_figure_name(model), catalog.generalization_caption(model),
                      lambda m=model: generalization_figure(generalization.pooled, m, ticket,
                                                            list(params.get("datasets", {})), subtitle)))
    for model in deployment.models() if deployment is not None else []:
        drawn.append((catalog.deployment_figure_name(model), catalog.deployment_caption(model),
                      lambda m=model: deployment_figure(deployment.at(*catalog.DEPLOYMENT_TIMING), m,
                                                        list(params.get("datasets", {})), catalog.DEPLOYMENT_TIMING,
                                                        subtitle, error_bar_note(deployment.per_seed))))
    written = {}
    for name, caption, draw in drawn:
        figure = draw()
        if figure is None:
            continue
        files = plots.save_figure(figure, folder, name, formats)
        written[name] = {"caption": caption, "files": [f"figures/{p.name}" for p in files]}
    return written


def _gradcam_figure(record: dict, params: dict, subtitle: str):
    grid = paths.gradcam_outputs(params, record["dataset"], record["model"])["png"]
    if not grid.is_file():
        raise InputError(f"{grid}: Grad-CAM grid not found beside {record['path']} (rerun the gradcam stage)")
    return plots.gradcam_grid_image(record, grid, subtitle)


def _paper_gradcam_record(records: list[dict], roles: Roles) -> dict | None:
    """The paper's Fig. 3 setting: the model the registry marks `paper_gradcam` on the OpenForensic-role
    dataset, else the closest we have."""
    if not records:
        return None
    source = roles.dataset(paper.OPENFORENSIC)
    paper_models = {name for name in model_names() if model_spec(name).paper_gradcam}

    def preference(record):
        return (record["dataset"] != source, record["model"] not in paper_models)

    return min(records, key=preference)


def _subtitle(params: dict, frame: pd.DataFrame) -> str:
    datasets = set(frame["dataset"]) | set(frame["source_dataset"].dropna())
    if any(data_kind(params, d) == "demo" for d in datasets):
        return "demo data (synthetic): these are not the paper's numbers"
    return ""
