"""Build the Keras MLP an experiment describes."""

from __future__ import annotations

import itertools

# What a run trains to depends on the training engine's numerics as well as on its spec and seed. Raise this
# with any change that alters them: the train and refit rules pass it to their step, so Snakemake retrains
# every run made with another. (Here rather than in training, which imports more than the Snakefile needs.)
ENGINE_VERSION = 2  # 1: Keras fit(); 2: one XLA call per epoch, ThreeFry dropout masks (training.Engine)

INPUT_DIM = 784


def build_model(spec: dict, n_classes: int = 10, input_dim: int = INPUT_DIM):
    """Sequential MLP: [input dropout] -> (Dense [-> BatchNorm] -> activation [-> dropout]) per hidden layer
    -> Dense softmax. L2 applies to every Dense kernel."""
    import keras

    regularizer = keras.regularizers.L2(spec["l2"]) if spec["l2"] else None
    layers = [keras.Input(shape=(input_dim,), name="pixels")]
    if spec["input_dropout"]:
        layers.append(keras.layers.Dropout(spec["input_dropout"], name="input_dropout"))
    for index, units in enumerate(spec["hidden_layers"], start=1):
        if spec["batch_norm"]:
            layers.append(keras.layers.Dense(units, kernel_regularizer=regularizer, name=f"hidden_{index}"))
            layers.append(keras.layers.BatchNormalization(name=f"batch_norm_{index}"))
            layers.append(keras.layers.Activation(spec["activation"], name=f"activation_{index}"))
        else:
            layers.append(
                keras.layers.Dense(
                    units, activation=spec["activation"], kernel_regularizer=regularizer, name=f"hidden_{index}"
                )
            )
        if spec["dropout"]:
            layers.append(keras.layers.Dropout(spec["dropout"], name=f"dropout_{index}"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=regularizer, name="output"))
    return keras.Sequential(layers, name="mlp")


def build_optimizer(optimizer: dict):
    import keras

    name, learning_rate, momentum = optimizer["name"], optimizer["learning_rate"], optimizer["momentum"]
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate, momentum=momentum)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    raise ValueError(f"unknown optimizer {name!r}")


def training_flop(spec: dict, n_images: int, n_classes: int = 10, input_dim: int = INPUT_DIM) -> float:
    """Arithmetic of training `spec` for all its epochs on `n_images`: 6 FLOP per Dense weight per image (2 in
    the forward pass, 4 in the backward pass); biases, activations and the optimizer are negligible beside it."""
    sizes = [input_dim, *spec["hidden_layers"], n_classes]
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    return 6.0 * weights * n_images * spec["epochs"]


def count_trainable_params(model) -> int:
    return int(sum(int(w.numpy().size) for w in model.trainable_weights))
