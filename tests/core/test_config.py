import json

import pytest
from hypothesis import given, settings, strategies as st

from core import ConfigError, SimConfig
from core import config as C

CONTRACT_DEFAULTS = dict(
    architecture="mlp", depth=20, width=128, activation="tanh", leaky_slope=0.01, init="xavier_normal",
    init_std=0.01, init_gain=1.0, init_mode="fan_in", bias_std=0.0, forget_bias=1.0, normalization="none",
    norm_position="pre", heads=4, pool_every=0,
    dataset="spirals",
    input_dim=32, seq_len=16, n_samples=2048, batch_size=128, grad_accum=1, optimizer="sgd", lr=0.05, momentum=0.9,
    weight_decay=0.0, warmup_steps=0, clip_mode="none", clip_threshold=1.0, seed=0, device="auto",
    model="", data_file="", label_column="",
)


def test_defaults_are_the_public_contract():
    assert SimConfig().to_dict() == CONTRACT_DEFAULTS


def test_contract_value_lists():
    assert C.ACTIVATION_NAMES == ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu",
                                  "softplus", "linear", "shifted_relu")
    assert C.INIT_NAMES == ("zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal",
                            "kaiming_uniform", "kaiming_normal", "lecun_normal", "orthogonal")
    assert C.DATASET_NAMES == ("gaussian", "spirals", "circles", "xor", "moons", "digits", "first_token", "adding",
                               "stripes", "majority", "file")
    assert C.OPTIMIZERS == ("sgd", "momentum", "adam", "radam", "rmsprop")
    assert C.ARCHITECTURES == ("mlp", "residual", "rnn", "lstm", "cnn", "residual_cnn", "transformer", "autoencoder",
                               "user", "user_autoencoder")
    assert C.NORM_POSITIONS == ("pre", "post")


@pytest.mark.parametrize("field,value,fragment", [
    ("depth", 0, "allowed 1..1000"), ("depth", 1001, "allowed 1..1000"), ("width", 4097, "1..4096"),
    ("leaky_slope", 1.5, "0..1"), ("init_std", -1.0, ">= 0"), ("init_gain", 0.0, "> 0"),
    ("bias_std", -0.1, ">= 0"), ("n_samples", 15, "16..100000"), ("batch_size", 0, "1..2048"),
    ("batch_size", 4096, "1..2048"), ("lr", 0.0, "> 0"), ("momentum", 1.0, "< 1"),
    ("clip_threshold", 0.0, "> 0"), ("lr", float("nan"), "not a finite"), ("seed", -1, "0..9223372036854775807"),
    ("grad_accum", 0, "allowed 1..1024"), ("grad_accum", 1025, "allowed 1..1024"),
    ("grad_accum", 17, "effective batch batch_size × grad_accum = 128 × 17 exceeds n_samples = 2048; allowed 1..16"),
    ("weight_decay", -1e-4, ">= 0"), ("weight_decay", float("inf"), "not a finite"),
    ("warmup_steps", -1, "allowed 0..1000000"), ("warmup_steps", 10**6 + 1, "allowed 0..1000000"),
])
def test_out_of_range_names_field_and_range(field, value, fragment):
    with pytest.raises(ConfigError) as err:
        SimConfig(**{field: value})
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert fragment in str(err.value)


def test_unknown_name_suggests_closest():
    with pytest.raises(ConfigError, match=r"activation: unknown value 'rleu'; did you mean 'relu'\?"):
        SimConfig(activation="rleu")
    with pytest.raises(ConfigError, match="did you mean 'kaiming_normal'"):
        SimConfig(init="kaiming_norml")


@pytest.mark.parametrize("arch", ["rnn", "lstm"])
def test_recurrent_refuses_batchnorm(arch):
    assert SimConfig(architecture=arch, normalization="layernorm").architecture == arch
    with pytest.raises(ConfigError, match=r"^normalization: 'batchnorm' is not available .* allowed 'none' or 'layernorm'"):
        SimConfig(architecture=arch, normalization="batchnorm")


def test_sequence_data_is_capped_by_samples_times_depth():
    SimConfig(dataset="adding", depth=1000, n_samples=4000)
    with pytest.raises(ConfigError, match=r"^n_samples: 4001 sequences of 1000 steps .* allowed 16\.\.4000 at this depth"):
        SimConfig(dataset="adding", depth=1000, n_samples=4001)
    SimConfig(dataset="spirals", depth=1000, n_samples=100_000)  # the cap is for sequences only


def test_forget_bias_range():
    assert SimConfig().forget_bias == 1.0
    SimConfig(forget_bias=-10)
    with pytest.raises(ConfigError, match=r"^forget_bias: 10.5 is out of range; allowed -10..10"):
        SimConfig(forget_bias=10.5)


def test_batchnorm_needs_two_examples():
    with pytest.raises(ConfigError, match="batch_size"):
        SimConfig(normalization="batchnorm", batch_size=1)
    SimConfig(normalization="layernorm", batch_size=1)


def test_from_dict_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match="widht: unknown field; did you mean 'width'"):
        SimConfig.from_dict({"widht": 3})
    with pytest.raises(ConfigError, match="depth: expected an integer"):
        SimConfig.from_dict({"depth": "20"})
    with pytest.raises(ConfigError, match="depth: expected an integer"):
        SimConfig.from_dict({"depth": True})
    with pytest.raises(ConfigError, match="lr: expected a number"):
        SimConfig.from_dict({"lr": "fast"})
    with pytest.raises(ConfigError, match="activation: expected a string"):
        SimConfig.from_dict({"activation": 3})
    with pytest.raises(ConfigError, match="config: expected a JSON object"):
        SimConfig.from_dict([1, 2])
    assert SimConfig.from_dict({"lr": 1}).lr == 1.0 and isinstance(SimConfig.from_dict({"lr": 1}).lr, float)


def test_overrides_parse_by_field_type():
    cfg = SimConfig().with_overrides(["depth=7", "lr=1e-3", "activation=relu"])
    assert (cfg.depth, cfg.lr, cfg.activation) == (7, 1e-3, "relu")
    with pytest.raises(ConfigError, match="--set: expected key=value"):
        SimConfig().with_overrides(["depth"])
    with pytest.raises(ConfigError, match="depth: expected an integer, got '2.5'"):
        SimConfig().with_overrides(["depth=2.5"])


def test_replace_returns_validated_copy():
    base = SimConfig()
    assert base.replace(depth=3).depth == 3 and base.depth == 20
    with pytest.raises(ConfigError, match="depth"):
        base.replace(depth=-3)


def test_from_partial_fills_in_the_defaults_or_a_base():
    cfg = SimConfig.from_partial({"depth": 7, "lr": 1})
    assert cfg == SimConfig(depth=7, lr=1.0) and isinstance(cfg.lr, float)
    assert SimConfig.from_partial({}) == SimConfig()
    base = SimConfig(width=8, activation="relu")
    assert SimConfig.from_partial({"depth": 3}, base) == SimConfig(width=8, activation="relu", depth=3)
    with pytest.raises(ConfigError, match="widht: unknown field; did you mean 'width'"):
        SimConfig.from_partial({"widht": 3})
    with pytest.raises(ConfigError, match="depth: expected an integer"):
        SimConfig.from_partial({"depth": "20"}, base)
    with pytest.raises(ConfigError, match="config: expected a JSON object of fields, got list"):
        SimConfig.from_partial([1, 2])


@st.composite
def configs(draw):
    cfg = draw(_configs)
    cap = min(C.MAX_GRAD_ACCUM, cfg.n_samples // cfg.batch_size)  # effective batch ≤ n_samples
    return cfg.replace(grad_accum=draw(st.integers(1, cap)), weight_decay=draw(st.floats(0, 1e3)),
                       warmup_steps=draw(st.integers(0, C.MAX_WARMUP_STEPS)))


def _valid(fields: dict) -> bool:
    try:
        SimConfig(**fields)
    except ConfigError:  # cross-field rules (recurrent + batchnorm, sequence memory cap)
        return False
    return True


_configs = st.builds(
    dict,
    architecture=st.sampled_from(C.ARCHITECTURES), depth=st.integers(1, 1000), width=st.integers(1, 4096),
    activation=st.sampled_from(C.ACTIVATION_NAMES), leaky_slope=st.floats(0, 1),
    init=st.sampled_from(C.INIT_NAMES), init_std=st.floats(0, 1e6), init_gain=st.floats(1e-6, 1e3),
    init_mode=st.sampled_from(C.INIT_MODES), bias_std=st.floats(0, 10), forget_bias=st.floats(-10, 10),
    normalization=st.sampled_from(C.NORMALIZATIONS), dataset=st.sampled_from(C.DATASET_NAMES),
    input_dim=st.integers(1, 4096), n_samples=st.integers(2048, 100_000), batch_size=st.integers(2, 2048),
    optimizer=st.sampled_from(C.OPTIMIZERS), lr=st.floats(1e-9, 1e3), momentum=st.floats(0, 0.999),
    clip_mode=st.sampled_from(C.CLIP_MODES), clip_threshold=st.floats(1e-12, 1e6),
    seed=st.integers(0, 2**63 - 1), device=st.sampled_from(C.DEVICES),
).filter(_valid).map(lambda fields: SimConfig(**fields))


@settings(max_examples=200, deadline=None)
@given(configs())
def test_json_round_trip_is_lossless(cfg):
    assert SimConfig.from_json(cfg.to_json()) == cfg
    assert SimConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in C.fields(SimConfig)] + ["bogus"]),
                       st.one_of(st.integers(-10, 5000), st.floats(allow_nan=True, allow_infinity=True),
                                 st.text(max_size=12), st.booleans(), st.none(),
                                 st.sampled_from(C.ACTIVATION_NAMES + C.INIT_NAMES + C.DATASET_NAMES))))
def test_any_dict_is_valid_or_names_the_field(data):
    try:
        cfg = SimConfig.from_dict(data)
    except ConfigError as err:
        assert err.field in data or err.field in ("batch_size", "config")
        assert str(err).startswith(f"{err.field}: ")
    else:
        assert cfg.to_dict() == SimConfig.from_dict(cfg.to_dict()).to_dict()
