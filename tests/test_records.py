"""Records with a schema: metrics.json and gradcam.json as versioned records, predictions.csv by its header."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_lth import __version__, paths
from deepfake_lth.errors import InputError
from deepfake_lth.io import write_json
from deepfake_lth.predictions import COLUMNS, PREDICTIONS_VERSION, header_version, read_predictions, write_predictions
from deepfake_lth.records import RECORD_VERSION, GradcamRecord, MetricsRecord, read_gradcam, read_metrics
from deepfake_lth.training.run import train_dense

from test_train_support import make_params, one_thread  # noqa: F401 (autouse)

RESULTS = Path(__file__).resolve().parents[1] / "results"


def metrics_dict() -> dict:
    """A metrics.json as the trainer writes it today (without record_version), the keys of a real file."""
    split = {"accuracy": 0.9, "auc": 0.95, "eer": 0.1, "ap": 0.93, "loss": 0.3, "n": 64,
             "video": {"accuracy": 0.92, "auc": 0.96, "eer": 0.08, "ap": 0.94, "loss": 0.28, "n": 32}}
    return {
        "stage": "prune", "dataset": "demo_gan", "source_dataset": None, "model": "cnn5", "seed": 0,
        "method": "imp_global", "level": 3, "nominal_sparsity": 0.488, "sparsity": 0.4881,
        "remaining_weights": 5120, "prunable_weights": 10000, "total_parameters": 10250,
        "per_layer": {"features.0.weight": {"remaining": 5120, "sparsity": 0.488, "total": 10000}},
        "epochs": 5, "best_epoch": 3, "stopped_early": True,
        "splits": {"validation": split, "test": split},
        "params": {"image_size": 40, "training": {"batch_size": 32}},
        "execution": {"device": "cpu", "precision": "fp32", "peak_device_memory_mb": None, "resident": True},
        "version": __version__,
    }


def gradcam_dict() -> dict:
    """A gradcam.json as the Grad-CAM job writes it today (without record_version), the keys of a real file."""
    levels = [{"level": 0, "method": "dense", "checkpoint": "d/final.pt", "nominal_sparsity": 0.0, "sparsity": 0.0,
               "mean_map_change_frobenius": 0.0, "mean_map_change_rms": 0.0, "mean_spearman": 1.0,
               "sample_accuracy": 1.0},
              {"level": 7, "method": "imp_global", "checkpoint": "l/final.pt", "nominal_sparsity": 0.79,
               "sparsity": 0.79, "mean_map_change_frobenius": 7.5, "mean_map_change_rms": 0.1,
               "mean_spearman": None, "sample_accuracy": 0.5}]
    images = [{"index": 3, "source": "a.png", "group": "g", "label": 0, "label_name": "real",
               "levels": [{"level": 0, "probability_fake": 0.2, "predicted": 0, "map_change_frobenius": 0.0,
                           "map_change_rms": 0.0, "spearman": 1.0}]}]
    return {
        "dataset": "demo_gan", "model": "resnet18", "method": "imp_global", "run_seed": 0, "sample_seed": 5,
        "split": "test", "face_store": "data/faces/demo_gan/test", "target": "true class",
        "target_layers": ["layer4.1"], "map_shape": [40, 40], "map_scaling": "min-max", "levels": levels,
        "images": images, "params": {"gradcam": {"seed": 5}}, "device": "cpu", "version": __version__,
        "grad_cam_version": "1.5.4",
    }


@pytest.mark.parametrize("record_type, data, read", [(MetricsRecord, metrics_dict(), read_metrics),
                                                    (GradcamRecord, gradcam_dict(), read_gradcam)])
def test_a_record_round_trips_and_adds_only_record_version_to_the_bytes(tmp_path, record_type, data, read):
    record = record_type(**data)
    record.write(tmp_path / "new.json")
    written = json.loads((tmp_path / "new.json").read_text())
    assert written == {**data, "record_version": 1} and record.record_version == RECORD_VERSION == 1
    assert read(tmp_path / "new.json") == record
    write_json(tmp_path / "old.json", data)  # today's plain writer
    old, new = (tmp_path / "old.json").read_text().splitlines(), (tmp_path / "new.json").read_text().splitlines()
    assert [line for line in new if line not in old] == ['  "record_version": 1,'] and len(new) == len(old) + 1


@pytest.mark.parametrize("record_type, data, read", [(MetricsRecord, metrics_dict(), read_metrics),
                                                    (GradcamRecord, gradcam_dict(), read_gradcam)])
def test_a_file_from_before_records_is_read_as_version_1(tmp_path, record_type, data, read):
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert read(tmp_path / "old.json") == record_type(**data)


def test_an_older_metrics_file_without_later_keys_reads_them_as_none(tmp_path):
    data = {k: v for k, v in metrics_dict().items() if k not in ("execution", "per_layer")}
    (tmp_path / "metrics.json").write_text(json.dumps(data))
    record = read_metrics(tmp_path / "metrics.json")
    assert record.execution is None and record.per_layer is None and record.splits == data["splits"]


@pytest.mark.parametrize("data, read, kind", [(metrics_dict(), read_metrics, "metrics"),
                                              (gradcam_dict(), read_gradcam, "Grad-CAM")])
def test_a_newer_record_version_is_refused_naming_the_file_and_the_version(tmp_path, data, read, kind):
    path = tmp_path / "future" / "record.json"
    write_json(path, {**data, "record_version": 99, "new_key": 1})
    with pytest.raises(InputError, match=rf"future/record.json: {kind} record version 99 is newer than this "
                                         r"deepfake-lth reads \(1\)"):
        read(path)


@pytest.mark.parametrize("version", ["1", 0, True, None])
def test_a_record_version_that_is_not_one_is_refused(tmp_path, version):
    write_json(tmp_path / "metrics.json", {**metrics_dict(), "record_version": version})
    with pytest.raises(InputError, match=r"metrics.json: metrics record version .* is not a record version"):
        read_metrics(tmp_path / "metrics.json")


def test_missing_and_unknown_keys_are_named(tmp_path):
    path = tmp_path / "dense" / "metrics.json"
    write_json(path, {"stage": "dense", "dataset": "tiny"})
    with pytest.raises(InputError, match=r"dense/metrics.json: metrics file lacks model, seed, method, level, "
                                         r"sparsity, splits.test.accuracy$"):
        read_metrics(path)
    assert read_metrics(path, required=("stage",)).model is None  # a reader that needs less
    write_json(path, {**metrics_dict(), "accuracy": 0.9})
    with pytest.raises(InputError, match=r"metrics.json: metrics file has keys that record version 1 does not "
                                         r"have: accuracy"):
        read_metrics(path)
    write_json(path, [1, 2])
    with pytest.raises(InputError, match=r"metrics.json: expected a JSON object"):
        read_metrics(path)
    write_json(tmp_path / "gradcam.json", {k: v for k, v in gradcam_dict().items() if k != "levels"})
    with pytest.raises(InputError, match=r"gradcam.json: Grad-CAM file lacks levels"):
        read_gradcam(tmp_path / "gradcam.json")


def test_predictions_are_identified_by_their_header(tmp_path):
    path = tmp_path / "predictions.csv"
    write_predictions(path, {"test": ([0, 1], [0.25, 0.75], ["a", "b"])})
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)  # the bytes as before: no version column
    assert header_version(path, list(COLUMNS)) == PREDICTIONS_VERSION == 1
    assert read_predictions(path)["test"].p_fake.tolist() == [0.25, 0.75]
    for header in ("split,index,label,p_fake", "split,index,group,label,p_fake,extra"):
        path.write_text(header + "\ntest,0,a,0,0.5\n")
        found = header.replace(",", ", ")
        with pytest.raises(InputError, match=rf"predictions.csv: not a predictions file .*columns are {found}, "
                                             r"expected split, index, group, label, p_fake"):
            read_predictions(path)
    path.write_text("")
    with pytest.raises(InputError, match=r"predictions.csv: .*columns are none"):
        read_predictions(path)


def test_the_trainer_writes_a_metrics_record_and_its_bytes_survive_a_round_trip(tmp_path):
    params = make_params(tmp_path, training={"max_epochs": 1})
    returned = train_dense(params, "tiny", "mesonet", 0)
    path = paths.dense_dir(params, "tiny", "mesonet", 0) / "metrics.json"
    assert json.loads(path.read_text())["record_version"] == 1
    record = read_metrics(path)
    assert record.to_dict() == returned and record.stage == "dense" and record.version == __version__
    record.write(tmp_path / "again.json")
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


@pytest.mark.skipif(not RESULTS.is_dir(), reason="no results/ in this checkout")
def test_the_result_files_of_this_checkout_read():
    metrics = sorted(RESULTS.glob("runs/**/metrics.json")) + sorted(RESULTS.glob("transfer/**/metrics.json"))
    gradcam = sorted(RESULTS.glob("gradcam/*/*/gradcam.json"))
    if not metrics and not gradcam:
        pytest.skip("results/ holds no metrics or Grad-CAM records")
    for path in metrics:
        assert read_metrics(path).splits["test"]["accuracy"] is not None
    for path in gradcam:
        assert read_gradcam(path).levels
