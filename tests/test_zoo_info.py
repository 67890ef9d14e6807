"""Parameters and MACs of every zoo model against PaddleClas's table and the papers; `edgekit info`."""

from __future__ import annotations

import pytest

paddle = pytest.importorskip("paddle")

from edgekit import reference, zoo  # noqa: E402
from edgekit.zoo._complexity import count_all_parameters, count_macs, count_parameters  # noqa: E402

TOLERANCE = 0.025

# Models whose computed parameters are allowed to differ from the table by more than 2.5%,
# with the reason. Empty: every model is within 2.5% when BatchNorm running statistics are left
# out (PaddleClas's table counts trainable parameters: MobileNetV3_small_x1_0 gives 2.9400 M
# against the table's 2.94). The largest deviation is MobileNetV1_x0_25, +2.2% (0.4701 M vs
# 0.46 M): the table gives two decimals for a model this small.
DOCUMENTED_PARAMS_DEVIATIONS: dict[str, str] = {}


@pytest.mark.parametrize("name", reference.reference_names())
def test_computed_parameters_match_the_table(name):
    info = zoo.model_info(name)
    table = reference.get_reference(info.architecture).params_m
    deviation = info.params_m_computed / table - 1
    if name in DOCUMENTED_PARAMS_DEVIATIONS:
        assert abs(deviation) > TOLERANCE, f"{name} no longer deviates; drop its note"
    else:
        assert abs(deviation) <= TOLERANCE, f"{name}: {info.params_m_computed} M vs the table's {table} M"
    assert info.params_m_with_bn_stats > info.params_m_computed
    # the table's FLOPs count a multiply and an add apart: about twice the MACs for every model
    assert 1.6 < info.flops_ratio < 2.1, f"{name}: FLOPs/MACs {info.flops_ratio}"


@pytest.mark.parametrize("name, paper_macs_m", [
    ("MobileNetV1", 569),  # Howard et al. 2017, table 8: 569 million mult-adds
    ("MobileNetV3_large_x1_0", 219),  # Howard et al. 2019, table 3: 219 M MAdds
    ("ShuffleNetV2", 146),  # Ma et al. 2018, table 5: 146 M FLOPs (counted as MACs there)
    # Sandler et al. 2018 give 300 M; PaddleClas keeps the 1x1 expansion conv of the t=1 block,
    # 32x32 channels at 112x112 = 12.85 M MACs more
    ("MobileNetV2", 300 + 12.85),
])
def test_macs_match_the_papers(name, paper_macs_m):
    macs_m = zoo.model_info(name).macs_g * 1000
    assert macs_m == pytest.approx(paper_macs_m, rel=0.01)


def test_counters_on_a_layer_counted_by_hand():
    net = paddle.nn.Sequential(
        paddle.nn.Conv2D(3, 8, 3, padding=1, bias_attr=False),  # 8*3*3*3 = 216 weights
        paddle.nn.BatchNorm(8),  # 8 scale + 8 shift trainable, 8 mean + 8 variance stored
        paddle.nn.Conv2D(8, 8, 3, padding=1, groups=8),  # depthwise: 72 weights + 8 bias
        paddle.nn.Flatten(),
        paddle.nn.Linear(8 * 4 * 4, 10),  # 1280 + 10
    )
    assert count_parameters(net) == 216 + 16 + 80 + 1290
    assert count_all_parameters(net) == 216 + 32 + 80 + 1290
    # conv: 4*4 outputs x 8 channels x 27; depthwise: 4*4 x 8 x 9; linear 128 x 10
    assert count_macs(net, (1, 3, 4, 4)) == 16 * 8 * 27 + 16 * 8 * 9 + 128 * 10
    assert count_macs(net, (2, 3, 4, 4)) == 2 * (16 * 8 * 27 + 16 * 8 * 9 + 128 * 10)


def test_int8_info_uses_the_base_architecture():
    info = zoo.model_info("MobileNetV3_large_x1_0_ssld_int8")
    base = zoo.model_info("MobileNetV3_large_x1_0_ssld")
    assert info.built_by == "quantization" and info.architecture == "MobileNetV3_large_x1_0_ssld"
    assert (info.params_m_computed, info.macs_g, info.flops_ratio) == (base.params_m_computed, base.macs_g,
                                                                        base.flops_ratio)
    assert info.to_dict()["storage_mb"] == 10.0 and info.to_dict()["params_m"] is None


# -------------------------------------------------------------------------- the real CLI


def test_info_json(run_cli):
    data = run_cli("info", "MobileNetV3_large_x1_0", "--json", check=True).json()
    assert data["name"] == "MobileNetV3_large_x1_0" and data["family"] == "MobileNetV3"
    assert (data["top1"], data["flops_g"], data["params_m"], data["sd855_ms"]) == (0.753, 0.45, 5.47, 19.308)
    assert data["params_m_computed"] == pytest.approx(5.4802, abs=1e-4)
    assert data["macs_g"] == pytest.approx(0.2198, abs=1e-4)
    assert data["flops_ratio"] == pytest.approx(0.45 / data["macs_g"], abs=1e-3)
    assert data["pretrained_url"].endswith("/legendary_models/MobileNetV3_large_x1_0_pretrained.pdparams")
    assert data["built_by"] == "definition"


def test_info_text_for_the_int8_artifact(run_cli):
    result = run_cli("info", "MobileNetV3_large_x1_0_ssld_int8", check=True)
    assert "built by quantization: edgekit quantize MobileNetV3_large_x1_0_ssld" in result.stdout
    assert "params_m_computed   5.4802" in result.stdout
    assert "random weights" not in result.stderr


def test_info_unknown_model_is_one_line_with_the_closest_names(run_cli):
    result = run_cli("info", "MobileNetV3_large_x1")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("edgekit: error: unknown model 'MobileNetV3_large_x1'; did you mean ")
    assert "MobileNetV3_large_x1_0" in lines[0]
