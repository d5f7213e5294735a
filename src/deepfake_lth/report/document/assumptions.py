"""report.md's account of the settings: the assumptions in force (params.yaml, with the methods and models
described by their registries) and a warning where metrics files were made with other settings."""

from __future__ import annotations

from deepfake_lth import methods
from deepfake_lth.config import levels_nearest, pruning_levels, sparsity_at_level
from deepfake_lth.models.registry import model_label, model_spec

# Settings whose value in a metrics file's `params` must equal params.yaml for the report to describe it.
COMPARED_SETTINGS = {
    "training": lambda p: {k: v for k, v in p["training"].items() if k != "num_workers"},
    "pruning": lambda p: {k: p["pruning"][k] for k in ("rate", "rate_of", "rewind", "prune_output_layer", "oneshot_scope")},
    "image_size": lambda p: p["faces"]["image_size"],
    "normalization": lambda p: p["normalization"],
}
REWIND_TEXT = {
    "init": "surviving weights reset to their initial values θ0 after each pruning step (classic LTH)",
    "iteration": "surviving weights reset to θk, the weights after k = {k} optimiser steps of the dense run",
    "none": "no reset: the pruned trained weights keep training (the paper's Algorithm 1 read literally)",
}
# How a method's magnitude ranking reads, by its scope (Method.scope; None: pruning.oneshot_scope).
SCOPE_TEXT = {"global": "all prunable weights together", "local": "each tensor on its own",
              "channels": "whole output channels of each layer by their L1 norm (and removes them)"}


def assumptions_section(params, frame, gradcam_records) -> str:
    p, t = params["pruning"], params["training"]
    nominal = ", ".join(
        f"L{level} {100 * sparsity_at_level(level, p['rate'], p['rate_of']):.1f}%" for level in pruning_levels(params)
    )
    controls = p["controls"]
    transfer = params.get("transfer", {})
    gradcam = params.get("gradcam", {})
    target_layers = sorted({f"{r['model']}: `{', '.join(r.get('target_layers', []))}`" for r in gradcam_records})
    items = [
        f"Models: {', '.join(params['models'])}; starting weights: {starting_weights(params)}.",
        f"Faces: {params['faces']['image_size']}×{params['faces']['image_size']} px; normalisation mean "
        f"{params['normalization']['mean']}, std {params['normalization']['std']}.",
        f"Training: {t['optimizer']}, learning rate {t['learning_rate']}, weight decay {t['weight_decay']}, "
        f"batch {t['batch_size']}, at most {t['max_epochs']} epochs, early stopping after {t['patience']} epochs "
        f"without validation-loss improvement, random horizontal flip {'on' if t['hflip'] else 'off'}; "
        + ("BatchNorm statistics recomputed over the training split before each evaluation; "
           if t["bn_recalibration"] else "")
        + "the model is selected on the validation split and the test split is evaluated once.",
        f"Seeds: {', '.join(map(str, params['seeds']))} (seeds found in the results: "
        f"{', '.join(map(str, sorted(set(frame['seed']))))}).",
        f"Pruning: unstructured magnitude pruning, {100 * p['rate']:g}% per level of the "
        f"{'remaining' if p['rate_of'] == 'remaining' else 'original'} weights, {p['levels']} levels; nominal "
        f"sparsity per level: {nominal}.",
        f"Methods: {', '.join(methods.label(m) for m in p['methods'])}.{_methods_sentence(p)}",
        f"Prunable tensors: conv and linear weights; never biases or BatchNorm; the output layer "
        f"{'is' if p['prune_output_layer'] else 'is not'} pruned.",
        f"Rewinding: {REWIND_TEXT[p['rewind']].format(k=t['rewind_iteration'])}.",
        f"Controls: {', '.join(methods.label(m) for m in controls['methods']) or 'none'} against the "
        f"{methods.label(controls['ticket'])} ticket at the levels nearest {_pct_list(controls['sparsities'])} "
        f"(levels {_levels(params, controls['sparsities'])}){_controls_clause(controls['methods'])}.",
        "Transfer: "
        + ("; ".join(f"{s} → {d}" for s, d in transfer.get("pairs", [])) or "none configured")
        + (f", methods {', '.join(methods.label(m) for m in transfer.get('methods', []))} at the levels nearest "
           f"{_pct_list(transfer.get('sparsities', []))} (levels {_levels(params, transfer.get('sparsities', []))}); "
           "the ticket (mask and its rewind weights) found on the source is trained and tested on the target; "
           "the baseline is the target's own dense run" if transfer.get("pairs") else "") + ".",
        f"Grad-CAM: models {', '.join(gradcam.get('models', []))}, dense against {methods.label(gradcam.get('method', ''))} "
        f"at the levels nearest {_pct_list(gradcam.get('sparsities', []))} (levels {_levels(params, gradcam.get('sparsities', []))}), "
        f"{gradcam.get('images_per_class')} real and {gradcam.get('images_per_class')} fake test faces drawn with "
        f"seed {gradcam.get('seed')}, of the first seed's runs; target: the true class; target layers "
        + ("; ".join(target_layers) if target_layers else _described_target_layers(gradcam.get("models", [])))
        + "; change of attention = Frobenius norm of (pruned map − dense map), maps scaled to [0, 1] per face.",
        f"Device: {params.get('device', 'auto')}.",
    ]
    return "\n".join(["## Assumptions in force (params.yaml)", "", *[f"- {item}" for item in items], ""])


def stale_section(params, frame) -> str:
    """Settings in the metrics files that differ from params.yaml (results from an older configuration)."""
    expected = {key: get(params) for key, get in COMPARED_SETTINGS.items()}
    mismatches: dict[str, int] = {}
    for record in frame["params"]:
        for key, value in expected.items():
            if key not in record:
                continue
            found = record[key]
            if isinstance(value, dict) and isinstance(found, dict):
                found = {k: found.get(k) for k in value}
            if found != value:
                label = f"`{key}`: {found} in the results, {value} in params.yaml"
                mismatches[label] = mismatches.get(label, 0) + 1
    if not mismatches:
        return ""
    lines = ["## Warning: results from other settings", "",
             "Some metrics files were produced with settings that differ from params.yaml; their numbers do "
             "not follow the assumptions above:", ""]
    lines += [f"- {label} ({n} files)" for label, n in sorted(mismatches.items())]
    return "\n".join(lines + [""])


def _methods_sentence(p: dict) -> str:
    """' IMP-Global ranks …; one-shot prunes …': how the study's pruning methods rank and prune, from their
    registry entries (the IMP family by its ranking scope, the one-shot family in one step)."""
    study = [methods.method(m) for m in methods.order() if m in p["methods"]]
    imp = [m for m in study if m.iterative]
    ranking = [f"{m.label} {'ranks ' if i == 0 else ''}{SCOPE_TEXT.get(m.scope or p['oneshot_scope'], '')}"
               for i, m in enumerate(imp)]
    one_shot = [f"{m.label} prunes the trained dense model in one step to each level's sparsity with "
               f"{m.scope or p['oneshot_scope']} scope, then rewinds and retrains like IMP"
               for m in study if m.family == methods.ONESHOT]
    parts = [", ".join(ranking)] if ranking else []
    return f" {'; '.join(parts + one_shot)}." if parts or one_shot else ""


def _controls_clause(names: list[str]) -> str:
    """'; <control> keeps …': what each of the study's controls keeps of its ticket."""
    kept = [f"{m.short_label} {m.description}" for m in map(methods.method, methods.order())
            if m.name in names and m.description]
    return f"; {', '.join(kept)}" if kept else ""


def _described_target_layers(models: list[str]) -> str:
    """The Grad-CAM target layer of each model, as its registry entry describes it (no record says yet)."""
    return "; ".join(f"{model_label(m)}: {model_spec(m).description}" for m in models) or "–"


def starting_weights(params) -> str:
    """Each model's starting point (params.yaml model_weights; metrics.json records it per run)."""
    files = {m: params.get("model_weights", {}).get(m) for m in params["models"]}
    named = [f"{model} from `{path}`" for model, path in files.items() if path]
    rest = [model for model, path in files.items() if not path]
    return "; ".join(named + ([f"{', '.join(rest)} randomly initialised (nothing downloaded)"] if rest else []))


def _pct_list(values) -> str:
    return ", ".join(f"{100 * v:g}%" for v in values) or "–"


def _levels(params, sparsities) -> str:
    return ", ".join(map(str, levels_nearest(params, list(sparsities)))) if sparsities else "–"
