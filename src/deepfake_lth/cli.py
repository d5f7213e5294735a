"""The `deepfake-lth` command: one subcommand per pipeline stage, each a call of one package function.

Snakemake rules and DVC stages call these; every command reads and validates params.yaml first.
Stage modules are imported lazily so that `deepfake-lth models` does not pay for OpenCV, and so on.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from deepfake_lth import methods, phases
from deepfake_lth.config import check_output_root, load_params, output_roots, tree_parts
from deepfake_lth.errors import ConfigError, InputError
from deepfake_lth.models.registry import keras_models, model_names

log = logging.getLogger("deepfake_lth")
RESULTS = "paths.results"  # the params key of the folder the run, Grad-CAM and report commands write


def _cmd_demo(params, args):
    from deepfake_lth.data.demo import generate_demo

    generate_demo(params, args.dataset)


def _cmd_faces(params, args):
    from deepfake_lth.data.extract import extract_faces

    extract_faces(params, args.dataset)


def _cmd_face_part(params, args):
    from deepfake_lth.data.extract import extract_part

    extract_part(params, args.tree, args.part)


def _cmd_models(params, args):
    from deepfake_lth.models.registry import parameter_table

    print(parameter_table(params).to_string(index=False))


def _cmd_import_weights(params, args):
    from deepfake_lth.models.keras_import import AUTHORS_IMAGE_SIZE, import_keras_weights

    size = args.image_size or AUTHORS_IMAGE_SIZE
    state = import_keras_weights(args.keras, args.model, args.out, size)
    print(f"wrote {args.out}: {len(state)} tensors of {args.model} at {size} px from {args.keras} "
          f"(params.yaml: model_weights: {{{args.model}: {args.out}}}; the authors' inputs are in [0, 1]: "
          "normalization mean 0, std 1)")


def _cmd_train(params, args):
    from deepfake_lth.training.run import train_dense

    phases.mark("imports")
    train_dense(params, args.dataset, args.model, args.seed)


def _cmd_prune(params, args):
    from deepfake_lth.lottery.runner import run_level

    phases.mark("imports")
    run_level(params, args.dataset, args.model, args.seed, args.method, args.level)


def _cmd_transfer(params, args):
    from deepfake_lth.transfer import run_transfer

    phases.mark("imports")
    run_transfer(params, args.source, args.target, args.model, args.seed, args.method, args.level)


def _cmd_gradcam(params, args):
    from deepfake_lth.explain.gradcam import run_gradcam

    phases.mark("imports")
    run_gradcam(params, args.dataset, args.model)


def _cmd_conditions(params, args):
    from deepfake_lth.conditions.scoring import run_conditions

    phases.mark("imports")
    run_conditions(params, args.dataset, args.model, args.seed)


def _cmd_deploy(params, args):
    from deepfake_lth.deployment.deploy import run_deployment

    phases.mark("imports")
    run_deployment(params, args.dataset, args.model, args.seed)


def _cmd_report(params, args):
    from deepfake_lth.report.build import build_report

    build_report(params)


def _cmd_report_page(params, args):
    from deepfake_lth.report.document.description import write_report_page

    print(f"wrote {write_report_page(params)}")


def _cmd_dvc_yaml(params, args):
    from deepfake_lth.config import read_params_file
    from deepfake_lth.dvc_stages import render_dvc_files, write_dvc_files

    files = render_dvc_files(params, args.params, read_params_file(args.params))
    removed = write_dvc_files(files, Path(args.output))
    stages = sum(len(document["stages"]) for document in files.values())
    print(f"wrote {args.output} and {len(files) - 1} dvc.yaml files under {Path(args.output).parent / 'pipelines'}: "
          f"{stages} stages" + (f"; removed {len(removed)} stale ones" if removed else ""))


def _cmd_validate(params, args):
    from deepfake_lth.models.registry import check_model_weights
    from deepfake_lth.params_checks import study_warnings
    from deepfake_lth.plan import missing_roots

    for key in output_roots(params):
        check_output_root(params, key, args.params)
    check_model_weights(params, args.params)
    for name, root in missing_roots(params):
        log.warning("%s: dataset '%s' is enabled but its root %s does not exist (download it there, "
                    "or change datasets.%s.root)", args.params, name, root, name)
    for warning in study_warnings(params, args.params):
        log.warning("%s", warning)
    print(f"{args.params}: valid")


def _cmd_plan(params, args):
    from deepfake_lth.plan import study_plan

    print(study_plan(params, args.params))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepfake-lth", description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_, writes=None):
        """A subcommand; `writes`: the params key of the folder it writes, checked before it starts."""
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func, writes=writes)
        return p

    def run_args(p):
        p.add_argument("--model", required=True)
        p.add_argument("--seed", type=int, required=True)

    def level_args(p, choices):
        p.add_argument("--method", required=True, choices=choices)
        p.add_argument("--level", type=int, required=True, help="pruning level, 1..pruning.levels")

    command("validate", _cmd_validate, "validate params.yaml (warning of missing dataset roots) and exit")
    command("plan", _cmd_plan, "show the study params.yaml declares: datasets, models, levels, jobs and training work")
    command("demo", _cmd_demo, "generate a synthetic demo dataset into its root", "paths.raw").add_argument("--dataset", required=True)
    command("faces", _cmd_faces, "extract faces into a face store", "paths.faces").add_argument("--dataset", required=True)
    p = command("face-part", _cmd_face_part, "extract one part (original, or a method) of an FF++-layout tree",
                "paths.faces")
    p.add_argument("--tree", required=True, help="the dataset entry that holds the tree (a view's view_of)")
    p.add_argument("--part", required=True, help="'original' or a manipulation method")
    command("models", _cmd_models, "print each model's parameter counts")
    p = command("import-weights", _cmd_import_weights, "turn the MesoNet authors' Keras .h5 weights into a state_dict file")
    p.set_defaults(needs_params=False)
    p.add_argument("--model", required=True, choices=keras_models())
    p.add_argument("--keras", required=True, help="the Keras weights file (.h5), e.g. Meso4_DF.h5")
    p.add_argument("--out", required=True, help="the state_dict file to write (.pt)")
    p.add_argument("--image-size", type=int, default=None,
                   help="face size the model is built for; must fit the file's dense layer (default: the authors' 256)")
    p = command("train", _cmd_train, "train the dense model (level 0)", RESULTS)
    p.add_argument("--dataset", required=True)
    run_args(p)
    p = command("prune", _cmd_prune, "make and train one pruning level", RESULTS)
    p.add_argument("--dataset", required=True)
    run_args(p)
    level_args(p, methods.level_methods())
    p = command("transfer", _cmd_transfer, "train a ticket from one dataset on another", RESULTS)
    p.add_argument("--source", required=True)
    p.add_argument("--target", required=True)
    run_args(p)
    level_args(p, methods.pruning_methods())
    p = command("gradcam", _cmd_gradcam, "Grad-CAM maps of dense and pruned models", RESULTS)
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", required=True)
    p = command("conditions", _cmd_conditions, "score a setting's dense run and its runs at the controls' levels "
                "under perturbation and on other datasets (robustness.csv, generalization.csv beside each)", RESULTS)
    p.add_argument("--dataset", required=True)
    run_args(p)
    p = command("deploy", _cmd_deploy, "measure a setting's dense run and its runs at the controls' levels as "
                "deployed: parameters, MACs, bytes, CPU latency in PyTorch and ONNX Runtime (deployment.csv)", RESULTS)
    p.add_argument("--dataset", required=True)
    run_args(p)
    command("report", _cmd_report, "tables, figures and report.md from the metrics files", RESULTS)
    command("report-page", _cmd_report_page, "the HTML report's description page: report.md's text and job costs",
            RESULTS)
    p = command("dvc-yaml", _cmd_dvc_yaml, "write dvc.yaml and pipelines/**/dvc.yaml (the DVC stages) for these params")
    p.add_argument("--output", default="dvc.yaml")
    return parser


def check_run_args(params: dict, args: argparse.Namespace) -> None:
    """The command line's model and dataset names, named as options (not as params keys) when unknown."""
    named = [("--model", getattr(args, "model", None), model_names())]
    named += [(f"--{option}", getattr(args, option, None), list(params["datasets"]))
              for option in ("dataset", "source", "target")]
    trees = tree_parts(params)
    named += [("--tree", getattr(args, "tree", None), list(trees))]
    named += [("--part", getattr(args, "part", None), trees.get(getattr(args, "tree", None), []))]
    for option, value, allowed in named:
        if value is not None and value not in allowed:
            raise ConfigError(f"{option} {value}: unknown (allowed: {', '.join(allowed)})")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    phases.mark("imports")
    try:
        params = load_params(args.params) if getattr(args, "needs_params", True) else None
        if params is not None:
            check_run_args(params, args)
        if args.writes:
            check_output_root(params, args.writes, args.params)
        phases.mark("params")
        args.func(params, args)
    except (ConfigError, InputError, OSError) as e:  # OSError: a file not readable or writable; it names the file
        if args.verbose and isinstance(e, OSError):
            log.exception("%s failed", args.command)
        print(f"deepfake-lth {args.command}: error: {e}", file=sys.stderr)
        return 2
    if args.writes:  # a job: say where its time went
        phases.publish(log)
    return 0


def console() -> None:
    """The `deepfake-lth` command: `main`, then an exit that skips the interpreter's teardown of torch's
    modules (0.4 s, a sixth of a MesoNet level job), once the logs and streams are flushed and no worker
    process is left. Every output is written and closed by then (atomic renames); nothing else is lost."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None or not multiprocessing.active_children():
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    console()
