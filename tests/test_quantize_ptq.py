"""PaddleSlim's stronger PTQ (AdaRound, bias correction, quant_recon_static's AdaRound/BRECQ/QDrop) as
QuantConfig options: each gives a valid int8 model of the trained network (few images, few steps)."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit import calibration
from edgekit.errors import UsageError
from edgekit.legalize import read_program
from edgekit.program import quantized_weights, weight_layers
from edgekit.quant_config import QuantConfig, presets
from edgekit.workspace import Workspace


def test_reconstruction_settings_are_checked():
    assert QuantConfig(recon_level="region-wise", simulate_activation_quant=True).recon_level == "region-wise"
    for bad, message in [({"recon_level": "block-wise"}, "recon_level"),
                         ({"simulate_activation_quant": True}, "needs recon_level"),
                         ({"recon_level": "layer-wise", "round_type": "adaround"}, "always learns the rounding"),
                         ({"round_type": "adaround"}, "rounded twice"), ({"bias_correction": True}, "no effect"),
                         ({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"drop_prob": 1.0}, "drop_prob")]:
        with pytest.raises(UsageError, match=message):
            QuantConfig(**bad)


def test_every_preset_is_a_valid_config():
    for name in presets():
        assert QuantConfig.from_preset(name).preset == name


@pytest.mark.slow
@pytest.mark.parametrize("settings", [
    {"onnx_format": False, "round_type": "adaround"},
    {"onnx_format": False, "bias_correction": True},
    {"onnx_format": False, "round_type": "adaround", "bias_correction": True},
], ids=["adaround", "bias_correction", "adaround+bias_correction"])
def test_stronger_ptq_gives_a_valid_int8_model(settings, trained_network, trained_roles, workspace):
    from edgekit._paddle import PaddlePredictor
    from edgekit.quantize import quantize_model

    config = QuantConfig.from_preset("paddleclas", batch_nums=4, **settings)
    result = quantize_model(trained_network.directory, Workspace.open(workspace), config,
                            calib_dir=trained_roles.calib)
    arguments = result.report["paddleslim_arguments"]
    for key, value in settings.items():
        assert arguments[key] == value
    program = read_program(result.model.model_file)
    convolutions = [layer.weight for layer in weight_layers(program) if layer.op_type != "matmul_v2"]
    assert set(convolutions) <= quantized_weights(program)  # every convolution int8, as the preset says

    fp32 = PaddlePredictor(trained_network.directory / "inference.pdmodel",
                           trained_network.directory / "inference.pdiparams")
    int8 = PaddlePredictor(result.model.model_file, result.model.params_file)
    images = calibration.eval_set(trained_roles.tune, trained_network.num_classes)
    transform = calibration.preprocess_for(result.model.description)
    agree = [int(fp32(x).argmax()) == int(int8(x).argmax())
             for _, x in list(calibration.iter_tensors(images, transform))[::5]]
    assert np.mean(agree) >= 0.8


@pytest.mark.slow
def test_reconstruction_gets_dropout_masks_and_the_same_float_model(trained_network, tmp_path):
    """quant_recon_static needs every dropout op to name its Mask output (inference programs have
    none); the copy it gets computes what the original does."""
    from edgekit._paddle import run_paddle_inference
    from edgekit.ptq import with_dropout_masks

    arguments = {"model_filename": "inference.pdmodel", "params_filename": "inference.pdiparams"}
    copy = with_dropout_masks(trained_network.directory, arguments, tmp_path)
    dropouts = [op for op in read_program(copy / "inference.pdmodel").blocks[0].ops if op.type == "dropout"]
    assert dropouts and all(any(s.parameter == "Mask" for s in op.outputs) for op in dropouts)
    batch = np.random.RandomState(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    original = run_paddle_inference(trained_network.directory / "inference.pdmodel",
                                    trained_network.directory / "inference.pdiparams", batch)
    assert np.allclose(run_paddle_inference(copy / "inference.pdmodel", copy / "inference.pdiparams", batch),
                       original, rtol=1e-5, atol=1e-6)


def test_cli_refuses_adaround_in_the_onnx_format_in_one_line(run_cli, workspace):
    result = run_cli("quantize", "MobileNetV1_x0_25", "--round-type", "adaround")
    assert result.returncode != 0
    assert "rounded twice" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (workspace / "quantize").exists()
