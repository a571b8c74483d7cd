import pytest

from mlpstudy.models import build_model, count_trainable_params


def spec(**changes):
    base = {
        "hidden_layers": [128],
        "activation": "relu",
        "dropout": 0.0,
        "input_dropout": 0.0,
        "l2": 0.0,
        "batch_norm": False,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({}, 784 * 128 + 128 + 128 * 10 + 10),  # 101,770
        ({"hidden_layers": []}, 784 * 10 + 10),  # softmax regression: 7,850
        ({"hidden_layers": [64, 64]}, 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10),
        (
            {"hidden_layers": [256, 256], "dropout": 0.5, "input_dropout": 0.2, "l2": 1e-4},
            784 * 256 + 256 + 256 * 256 + 256 + 2570,
        ),
        # batch norm adds a trainable scale and shift per unit (its moving statistics are not trained)
        ({"hidden_layers": [128], "batch_norm": True}, 101_770 + 2 * 128),
    ],
)
def test_parameter_counts_match_hand_arithmetic(changes, expected):
    model = build_model(spec(**changes))
    assert count_trainable_params(model) == expected
    assert model.count_params() - expected == (2 * 128 if changes.get("batch_norm") else 0)


def test_784_128_10_has_101770_parameters():
    assert count_trainable_params(build_model(spec())) == 101_770


def test_layers_follow_the_spec():
    model = build_model(spec(hidden_layers=[32, 16], activation="tanh", dropout=0.3, batch_norm=True))
    names = [layer.name for layer in model.layers]
    assert names == [
        "hidden_1",
        "batch_norm_1",
        "activation_1",
        "dropout_1",
        "hidden_2",
        "batch_norm_2",
        "activation_2",
        "dropout_2",
        "output",
    ]
    assert model.get_layer("activation_1").activation.__name__ == "tanh"
    assert model.get_layer("dropout_2").rate == 0.3
    assert model.output_shape == (None, 10)
