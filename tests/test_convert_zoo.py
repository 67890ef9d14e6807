"""Zoo models through export and opt: x86 .nb parity with Paddle Inference and arm .nb storage
against the seed's Storage Size column, for every family (small members, for speed)."""

from __future__ import annotations


import pytest

from edgekit.convert import convert_model
from edgekit.export import compare_logits, export_model, run_paddle_inference
from edgekit.lite_runtime import run_nb
from edgekit.preprocess import Preprocess, sample_images
from edgekit.workspace import Workspace
from edgekit.zoo_build import storage_comparison, storage_verdict

# One per family, plus the families' variants whose ops need a legalization fix of their own:
# MobileNetV2 (relu6), MobileNetV3 (hard_swish, hard_sigmoid), ShuffleNetV2_swish (swish).
FAMILY_MODELS = ["MobileNetV1_x0_25", "MobileNetV2_x0_25", "MobileNetV3_small_x0_35", "ShuffleNetV2_x0_33",
                 "ShuffleNetV2_swish"]


@pytest.fixture(scope="module")
def zoo_workspace(tmp_path_factory) -> Workspace:
    return Workspace.open(tmp_path_factory.mktemp("zoo_ws"))


@pytest.fixture(scope="module")
def photos():
    return Preprocess().batch(sample_images())


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_x86_nb_equals_paddle_inference(name: str, zoo_workspace: Workspace, order_one_weights, photos):
    model = export_model(name, zoo_workspace, pretrained=str(order_one_weights(name)))
    lite = convert_model(model, zoo_workspace, target="x86")
    expected = run_paddle_inference(model.model_file, model.params_file, photos)
    assert abs(expected).max() > 0.1  # logits of order 1, not the 1e-7 of random init
    comparison = compare_logits(expected, run_nb(lite.nb_path, photos))
    assert comparison["ok"], comparison


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_arm_nb_size_matches_seed_storage(name: str, zoo_workspace: Workspace, order_one_weights):
    model = export_model(name, zoo_workspace, pretrained=str(order_one_weights(name)))
    lite = convert_model(model, zoo_workspace, target="arm")
    storage = storage_comparison(name, lite.bytes)
    assert storage["matches"], storage


@pytest.mark.slow
def test_shufflenet_x0_25_is_the_documented_outlier(zoo_workspace: Workspace):
    """PaddleClas's own export + opt gives 2.58 MB for ShuffleNetV2_x0_25, not the table's 2.7:
    edgekit must give the same 2.58 MB (the table's row is the one that is off)."""
    lite = convert_model(export_model("ShuffleNetV2_x0_25", zoo_workspace), zoo_workspace, target="arm")
    storage = storage_comparison("ShuffleNetV2_x0_25", lite.bytes)
    assert round(lite.bytes / 1e6, 2) == 2.58
    assert storage["matches"] is False and storage["unit"] == "MB"


def test_storage_comparison_reads_the_seed_both_ways():
    mib_row = storage_comparison("MobileNetV3_large_x1_0", int(21.03 * 2**20))  # seed 21: MiB
    assert mib_row["matches"] and mib_row["unit"] == "MiB" and abs(mib_row["delta_mib_pct"]) < 0.5
    mb_row = storage_comparison("MobileNetV3_small_x1_0", int(11.89e6))  # seed 12: 10^6 bytes
    assert mb_row["matches"] and mb_row["unit"] == "MB"
    off = storage_comparison("MobileNetV1", int(20e6))
    assert off["matches"] is False
    assert storage_comparison("not-in-the-table", 1000)["matches"] is None


def test_int8_rows_are_compared_but_not_judged():
    int8 = storage_comparison("MobileNetV3_large_x1_0_ssld_int8", int(10e6))
    assert int8["matches"] is None and "int8" in int8["reason"] and int8["unit"] is not None
    assert storage_verdict(int8) == "int8: see note"
    assert storage_verdict(storage_comparison("MobileNetV3_large_x1_0", int(21.03 * 2**20))) == "yes (MiB)"
    missing = storage_comparison("not-in-the-table", 1000)
    assert missing["reason"] and storage_verdict(missing) is None
