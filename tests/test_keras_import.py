"""The MesoNet authors' Keras models, built here as their classifiers.py builds them (Keras 3 on its
torch backend), with random weights and BatchNorm statistics, saved as .h5 and imported with
`deepfake-lth import-weights`: the project's models give the same outputs. And bad files are refused."""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported: nothing else is installed for it

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from keras import layers  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402 (Keras 2's save_weights layout)

from deepfake_lth.cli import main  # noqa: E402
from deepfake_lth.errors import InputError  # noqa: E402
from deepfake_lth.models import mesonet  # noqa: E402
from deepfake_lth.models.keras_import import keras_state_dict  # noqa: E402
from deepfake_lth.models.registry import build_model, count_parameters  # noqa: E402

SIZE = 256  # the authors' IMGWIDTH


def conv(filters, kernel, **kwargs):
    return layers.Conv2D(filters, kernel, padding="same", activation="relu", **kwargs)


def head(x):
    y = layers.Flatten()(x)
    y = layers.Dropout(0.5)(y)
    y = layers.Dense(16)(y)
    y = layers.LeakyReLU(negative_slope=0.1)(y)
    y = layers.Dropout(0.5)(y)
    return layers.Dense(1, activation="sigmoid")(y)


def block(x, pool):
    return layers.MaxPooling2D(pool_size=(pool, pool), padding="same")(layers.BatchNormalization()(x))


def keras_meso4():
    """classifiers.py, Meso4.init_model."""
    x = layers.Input(shape=(SIZE, SIZE, 3))
    y = block(conv(8, (3, 3))(x), 2)
    y = block(conv(8, (5, 5))(y), 2)
    y = block(conv(16, (5, 5))(y), 2)
    y = block(conv(16, (5, 5))(y), 4)
    return keras.Model(inputs=x, outputs=head(y))


def inception_layer(x, a, b, c, d):
    """classifiers.py, MesoInception4.InceptionLayer."""
    x1 = conv(a, (1, 1))(x)  # line by line as theirs: Keras numbers layers in the order they are made
    x2 = conv(b, (1, 1))(x)
    x2 = conv(b, (3, 3))(x2)
    x3 = conv(c, (1, 1))(x)
    x3 = conv(c, (3, 3), dilation_rate=2, strides=1)(x3)
    x4 = conv(d, (1, 1))(x)
    x4 = conv(d, (3, 3), dilation_rate=3, strides=1)(x4)
    return layers.Concatenate(axis=-1)([x1, x2, x3, x4])


def keras_mesoinception4():
    """classifiers.py, MesoInception4.init_model."""
    x = layers.Input(shape=(SIZE, SIZE, 3))
    y = block(inception_layer(x, 1, 4, 4, 2), 2)
    y = block(inception_layer(y, 2, 4, 4, 2), 2)
    y = block(conv(16, (5, 5))(y), 2)
    y = block(conv(16, (5, 5))(y), 4)
    return keras.Model(inputs=x, outputs=head(y))


KERAS_MODELS = {"mesonet": keras_meso4, "mesoinception": keras_mesoinception4}


def randomised(model, seed):
    """Random kernels and biases, and BatchNorm gamma, beta, moving mean and variance far from the defaults."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n),
                               rng.normal(0, 0.3, n), rng.uniform(0.3, 2.0, n)])
        elif layer.get_weights():
            kernel, bias = layer.get_weights()
            fan_in = np.prod(kernel.shape[:-1])
            gain = 6 if isinstance(layer, layers.Dense) else 1.5  # logits of different faces differ
            layer.set_weights([rng.normal(0, gain / np.sqrt(fan_in), kernel.shape), rng.normal(0, 0.1, bias.shape)])
    return model


def save(model, path, layout):
    if layout == "keras2_save_weights":  # the authors' released files: layer_names at the top level
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    elif layout == "model_save":  # model.save('*.h5'): the same under model_weights, with the config
        model.save(path)
    else:  # Keras 3 save_weights('*.weights.h5')
        model.save_weights(path)
    return path


def imported(tmp_path, name, keras_file):
    out = tmp_path / f"{name}.pt"
    assert main(["import-weights", "--model", name, "--keras", str(keras_file), "--out", str(out)]) == 0
    return build_model(name, SIZE, weights=out).eval()


@pytest.fixture(scope="module")
def faces():
    """Four random faces in the authors' [0, 1], of different brightness and contrast."""
    rng = np.random.default_rng(7)
    noise = rng.uniform(0, 1, (4, SIZE, SIZE, 3))
    return np.clip(noise * rng.uniform(0.2, 1, (4, 1, 1, 1)) + rng.uniform(0, 0.6, (4, 1, 1, 1)), 0, 1).astype(np.float32)


def keras_logits(model, faces):
    """The input of the authors' final sigmoid: their last Dense layer applied to its input."""
    hidden = keras.ops.convert_to_numpy(keras.Model(model.inputs, model.layers[-1].input)(faces, training=False))
    kernel, bias = model.layers[-1].get_weights()
    return (hidden @ kernel + bias)[:, 0]


def centred(model, faces):
    """The last Dense layer's bias moved so that the logits of `faces` centre on 0 (their probabilities
    spread around 0.5, where the sigmoid shows every difference)."""
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, bias - keras_logits(model, faces).mean()])
    return model


def ours_probabilities(model, faces):
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(faces).permute(0, 3, 1, 2)))[:, 0].numpy()


@pytest.mark.parametrize("layout", ["keras2_save_weights", "model_save", "keras3_save_weights"])
@pytest.mark.parametrize("name", ["mesonet", "mesoinception"])
def test_imported_keras_weights_give_the_authors_outputs(tmp_path, faces, name, layout):
    original = centred(randomised(KERAS_MODELS[name](), seed=len(name)), faces)
    suffix = ".weights.h5" if layout == "keras3_save_weights" else ".h5"
    model = imported(tmp_path, name, save(original, tmp_path / f"{name}{suffix}", layout))
    probabilities = keras.ops.convert_to_numpy(original(faces, training=False))[:, 0]
    assert probabilities.std() > 0.1 and ((probabilities > 0.02) & (probabilities < 0.98)).all()  # not saturated
    assert np.abs(ours_probabilities(model, faces) - probabilities).max() < 1e-5
    assert count_parameters(model) == sum(int(np.prod(w.shape)) for w in original.trainable_weights)


def test_the_old_layer_order_would_not_give_the_authors_outputs(tmp_path, faces, monkeypatch):
    """The check above sees the order of ReLU and BatchNorm (the parameter count does not)."""
    original = centred(randomised(keras_meso4(), seed=7), faces)
    keras_file = save(original, tmp_path / "meso4.h5", "model_save")
    probabilities = keras.ops.convert_to_numpy(original(faces, training=False))[:, 0]
    block = mesonet._block

    def batchnorm_first(layer, channels, pool):  # conv -> BatchNorm -> ReLU -> pool: the order before this fix
        conv_, relu, norm, pool_ = block(layer, channels, pool)
        return torch.nn.Sequential(conv_, norm, relu, pool_)

    monkeypatch.setattr(mesonet, "_block", batchnorm_first)
    assert np.abs(ours_probabilities(imported(tmp_path, "mesonet", keras_file), faces) - probabilities).max() > 0.01


def test_the_batchnorm_statistics_and_keras_defaults_are_carried_over(tmp_path):
    original = randomised(keras_meso4(), seed=3)
    model = imported(tmp_path, "mesonet", save(original, tmp_path / "meso4.h5", "model_save"))
    norm = model.features[1][2]
    gamma, beta, mean, variance = original.layers[5].get_weights()  # the second BatchNormalization
    assert np.allclose(norm.running_var.numpy(), variance) and np.allclose(norm.weight.detach().numpy(), gamma)
    assert norm.eps == original.layers[5].epsilon == 1e-3
    assert norm.momentum == pytest.approx(1 - original.layers[5].momentum)


@pytest.fixture(scope="module")
def meso4_file(tmp_path_factory):
    return save(randomised(keras_meso4(), seed=1), tmp_path_factory.mktemp("keras") / "Meso4_DF.h5",
                "keras2_save_weights")


def test_a_text_file_is_not_an_hdf5_file(tmp_path, capsys):
    text = tmp_path / "Meso4_DF.h5"
    text.write_text("not weights\n")
    assert main(["import-weights", "--model", "mesonet", "--keras", str(text), "--out", str(tmp_path / "m.pt")]) == 2
    assert f"{text}: not an HDF5 file" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def test_a_keras_file_of_another_model_names_the_first_layer_that_does_not_fit(meso4_file):
    with pytest.raises(InputError, match=rf"{meso4_file}: Keras layer 'conv2d\w*' \(conv, 3x3x3x8 8\) does not fit "
                                         r"MesoInception-4's 'features.0.0.branch1.0' \(conv 1x1, 3 -> 1\)"):
        keras_state_dict(meso4_file, "mesoinception")


def test_an_image_size_that_does_not_match_the_dense_layer_is_refused(meso4_file, tmp_path, capsys):
    out = tmp_path / "m.pt"
    args = ["import-weights", "--model", "mesonet", "--keras", str(meso4_file), "--out", str(out)]
    assert main([*args, "--image-size", "128"]) == 2
    err = capsys.readouterr().err
    assert f"{meso4_file}: dense layer 'dense" in err and "1024 features" in err
    assert "images of 225-256 px" in err and "not --image-size 128" in err
    assert main([*args, "--image-size", "240"]) == 0  # 240 px gives the same 8 x 8 x 16 features


def test_an_hdf5_file_that_is_not_keras_weights_is_refused(tmp_path):
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["images"] = np.zeros(3)
    with pytest.raises(InputError, match="data.h5: an HDF5 file but not Keras weights"):
        keras_state_dict(tmp_path / "data.h5", "mesonet")
