"""Per-kind features read from Paddle programs, and the shipped zoo table kept current."""

from __future__ import annotations

import pytest

from edgekit import reference
from edgekit.estimate.features import INT8
from edgekit.estimate.zoo_features import compute_zoo_features, find_zoo_features, zoo_features
from edgekit.workspace import Workspace


def test_shipped_table_covers_every_zoo_name_and_its_int8():
    for name in reference.reference_names():
        if reference.split_int8(name)[1]:
            continue
        features = find_zoo_features(name)
        assert features is not None, name
        int8 = find_zoo_features(reference.int8_name(name))
        assert int8.precision == INT8 and int8.weight_bytes < features.weight_bytes
    # MACs read from the program agree with the table's FLOPs (PaddleClas counts about 2 per MAC)
    for row in reference.reference_models():
        if row.flops_g and not row.is_int8:
            ratio = row.flops_g * 1e9 / find_zoo_features(row.name).macs
            assert 1.6 < ratio < 2.2, (row.name, ratio)  # the table rounds tiny models to 0.01 G


def test_kinds_follow_the_architecture():
    v1, v3 = find_zoo_features("MobileNetV1"), find_zoo_features("MobileNetV3_large_x1_0")
    assert v1.get("dwconv.ops") == 13 and v1.get("conv_1x1.ops") == 13 and v1.get("se.ops") == 0
    assert v3.get("se.ops") > 0 and v3.get("act.ops") > 0  # SE blocks, hard_swish
    shuffle = find_zoo_features("ShuffleNetV2")
    assert shuffle.get("movement.ops") > 50  # channel shuffles, splits and concats
    # the default preset leaves the final fc (matmul_v2) float and makes every convolution int8
    int8 = find_zoo_features("MobileNetV1_int8")
    assert int8.get("fc.macs") == v1.get("fc.macs") and int8.get("conv_1x1.macs") == 0
    assert int8.get("conv_1x1_int8.macs") == v1.get("conv_1x1.macs")


@pytest.mark.slow
def test_shipped_table_is_current(workspace):
    """Recompute two architectures from fresh exports: the shipped rows must be what the code gives."""
    fresh = compute_zoo_features(Workspace.open(workspace), ["MobileNetV3_small_x0_35", "ShuffleNetV2_x0_25"])
    shipped = zoo_features()
    for features in fresh:
        assert features.to_row() == shipped[features.model].to_row(), features.model


@pytest.mark.slow
def test_a_folder_with_a_free_batch_dimension_estimates_as_its_zoo_name(workspace, tmp_path):
    """An inference-model folder (as PaddleClas exports them: batch -1) is read from its program."""
    import shutil

    from edgekit.estimate import estimate_latency
    from edgekit.export import export_model
    from edgekit.legalize import read_program

    exported = export_model("ShuffleNetV2_x0_25", Workspace.open(workspace))
    folder = tmp_path / "my_model"
    folder.mkdir()
    program = read_program(exported.model_file)
    freed = 0
    for var in program.blocks[0].vars:
        dims = var.type.lod_tensor.tensor.dims
        if var.type.HasField("lod_tensor") and not var.persistable and len(dims) and dims[0] == 1:
            dims[0] = -1
            freed += 1
    assert freed > 50
    (folder / "inference.pdmodel").write_bytes(program.SerializeToString())
    shutil.copy(exported.params_file, folder / "inference.pdiparams")
    by_folder = estimate_latency(folder, "sd855", workspace=Workspace.open(workspace))
    by_name = estimate_latency("ShuffleNetV2_x0_25", "sd855")
    assert by_folder.precision == "fp32"
    assert by_folder.latency_ms == pytest.approx(by_name.latency_ms)


@pytest.mark.slow
def test_a_quantized_program_reads_as_the_shipped_int8_row(workspace):
    """Precision from the program itself: PaddleSlim's int8 output (quantize/dequantize pairs around
    every activation, dequantized weights) gives the same int8 work as the preset-derived row."""
    from edgekit.estimate.features import model_file_features
    from edgekit.quantize import quantize_model

    quantized = quantize_model("MobileNetV3_small_x0_35", Workspace.open(workspace)).model
    read = model_file_features(quantized.model_file, quantized.name)
    shipped = find_zoo_features("MobileNetV3_small_x0_35_int8")
    assert read.precision == INT8 and read.weight_bytes == shipped.weight_bytes
    for name in set(read.values) | set(shipped.values):
        if name.endswith((".macs", ".ops")) and not name.startswith("elementwise"):
            assert read.get(name) == shipped.get(name), name
    # PaddleSlim adds one scale operator; nothing else differs
    assert read.get("elementwise.ops") - shipped.get("elementwise.ops") <= 1
