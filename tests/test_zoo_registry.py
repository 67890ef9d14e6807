"""The registry: names as PaddleClas spells them, lazy family imports, metadata beside entrypoints."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgekit import reference


def test_importing_the_zoo_does_not_import_paddle():
    probe = (
        "import sys, edgekit.zoo\n"
        "from edgekit.zoo import _registry, _pretrained\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('paddle', 'cv2'))"
        " + sorted(m for m in sys.modules if m.startswith('edgekit.zoo.') and not m.split('.')[-1].startswith('_')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_names_are_the_table_names_without_the_int8_artifact():
    from edgekit import zoo

    names = zoo.list_models()
    assert names == [n for n in reference.reference_names() if not n.endswith("_int8")]
    assert len(names) == 31


@pytest.mark.parametrize("family, count", [("MobileNetV1", 5), ("MobileNetV2", 7), ("MobileNetV3", 12),
                                           ("ShuffleNetV2", 7)])
def test_families(family, count):
    from edgekit import zoo

    names = zoo.list_models(family)
    assert len(names) == count
    assert {zoo.model_family(n) for n in names} == {family}
    assert names == [r.name for r in reference.reference_models() if r.family == family and not r.is_int8]


def test_every_entry_has_an_official_bcebos_pdparams_url():
    from edgekit import zoo
    from edgekit.preprocess import Preprocess

    for name in zoo.list_models():
        cfg = zoo.model_entry(name).pretrained
        assert cfg.url.startswith("https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/")
        assert cfg.url.endswith("_pretrained.pdparams")
        assert cfg.sha256 is None  # PaddleClas publishes none; never invented
        assert (cfg.input_size, cfg.mean, cfg.std) == ((3, 224, 224), (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        assert (cfg.mean, cfg.std) == (Preprocess().mean, Preprocess().std)  # what predict and quantize feed
        assert cfg.distilled == name.endswith("_ssld")
    assert zoo.model_entry("MobileNetV3_small_x0_35").pretrained.url.endswith(
        "/legendary_models/MobileNetV3_small_x0_35_pretrained.pdparams")
    assert zoo.model_entry("MobileNetV2_x0_25").pretrained.url.endswith("/dygraph/MobileNetV2_x0_25_pretrained.pdparams")


def test_entrypoint_builds_the_named_network_with_class_num():
    from edgekit import zoo

    model = zoo.model_entrypoint("MobileNetV1_x0_25")(class_num=7)
    assert list(model.fc.weight.shape) == [256, 7]


def test_registering_a_name_twice_is_refused():
    from edgekit.zoo import _registry

    def MobileNetV1():  # noqa: N802 - the clash is the point
        raise AssertionError("never called")

    _registry.list_models()  # families registered first
    with pytest.raises(RuntimeError, match="MobileNetV1 registered twice"):
        _registry.register_model("MobileNetV1", {"MobileNetV1": _registry.PretrainedCfg(url="https://x/y")})(
            MobileNetV1)
    assert _registry.model_entrypoint("MobileNetV1") is not MobileNetV1
