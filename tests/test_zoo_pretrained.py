"""Pretrained weights through the real code path: files written by paddle.save, a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import pickle
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

paddle = pytest.importorskip("paddle")

from edgekit import zoo  # noqa: E402
from edgekit.errors import UnknownModelError, UsageError, WeightsError  # noqa: E402
from edgekit.zoo import _pretrained  # noqa: E402

SMALL = "ShuffleNetV2_x0_25"  # 0.6 M parameters: quick to build, save and load


@pytest.fixture(scope="module")
def source_model():
    return zoo.create_model(SMALL)


@pytest.fixture
def weights_file(tmp_path, source_model) -> Path:
    path = tmp_path / "weights" / f"{SMALL}_pretrained.pdparams"
    path.parent.mkdir()
    paddle.save(source_model.state_dict(), str(path))
    return path


def assert_same_weights(model, reference) -> None:
    theirs = reference.state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), theirs[key].numpy(), err_msg=key)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on 127.0.0.1 (ephemeral port) serving a temporary folder; (folder, base URL)."""
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------- local files


def test_local_pdparams_loads_every_value(weights_file, source_model, capsys):
    model = zoo.create_model(SMALL, pretrained=weights_file)
    assert_same_weights(model, source_model)
    assert not model.training
    assert "random weights" not in capsys.readouterr().err


def test_path_given_as_str_without_suffix_like_paddleclas(weights_file, source_model):
    stem = str(weights_file)[: -len(".pdparams")]
    assert_same_weights(zoo.create_model(SMALL, pretrained=stem), source_model)


def test_random_weights_are_announced_once(capsys):
    zoo.create_model(SMALL)
    err = capsys.readouterr().err
    assert err.count(zoo.RANDOM_WEIGHTS_NOTE) == 1
    assert "random weights: accuracy is meaningless; latency and storage are valid" in err


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(WeightsError, match="weights file not found: .*nothing.pdparams"):
        zoo.create_model(SMALL, pretrained=tmp_path / "nothing.pdparams")
    with pytest.raises(WeightsError, match="is a folder"):
        zoo.create_model(SMALL, pretrained=tmp_path)


def test_pretrained_of_another_type_is_refused():
    with pytest.raises(WeightsError, match="pretrained=3: expected True, a .pdparams path or an http"):
        zoo.create_model(SMALL, pretrained=3)


def test_corrupt_file_is_not_a_state_dict(tmp_path):
    path = tmp_path / "corrupt.pdparams"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(WeightsError, match=r"corrupt.pdparams is not a Paddle state dict \(.pdparams\)"):
        zoo.create_model(SMALL, pretrained=path)


def test_truncated_file_is_not_a_state_dict(weights_file):
    data = weights_file.read_bytes()
    weights_file.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="is not a Paddle state dict"):
        zoo.create_model(SMALL, pretrained=weights_file)


def test_pickle_that_wants_to_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pdparams"
    path.write_bytes(pickle.dumps({"fc.weight": Payload()}))
    with pytest.raises(WeightsError, match=r"asks for (posix|os)\.system"):
        zoo.create_model(SMALL, pretrained=path)
    assert not marker.exists()


def test_pickle_of_something_else(tmp_path):
    path = tmp_path / "list.pdparams"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(WeightsError, match="holds a list, not a Paddle state dict"):
        zoo.create_model(SMALL, pretrained=path)


def _save_modified(source_model, path: Path, change) -> Path:
    state = {k: v.numpy() for k, v in source_model.state_dict().items()}
    change(state)
    paddle.save(state, str(path))
    return path


def test_missing_key_is_named(tmp_path, source_model):
    path = _save_modified(source_model, tmp_path / "w.pdparams", lambda s: s.pop("_last_conv._batch_norm._mean"))
    with pytest.raises(WeightsError, match=r"lack key '_last_conv._batch_norm._mean' of ShuffleNetV2_x0_25"):
        zoo.create_model(SMALL, pretrained=path)


def test_unexpected_key_is_named(tmp_path, source_model):
    path = _save_modified(source_model, tmp_path / "w.pdparams",
                          lambda s: s.update({"head.extra.weight": np.zeros(3, "float32")}))
    with pytest.raises(WeightsError, match=r"have key 'head.extra.weight', which ShuffleNetV2_x0_25 does not"):
        zoo.create_model(SMALL, pretrained=path)


def test_shape_mismatch_names_key_and_both_shapes(tmp_path, source_model):
    # a classifier stored [out, in] (PyTorch's layout) instead of Paddle's [in, out]
    path = _save_modified(source_model, tmp_path / "w.pdparams", lambda s: s.update({"_fc.weight": s["_fc.weight"].T}))
    with pytest.raises(WeightsError) as info:
        zoo.create_model(SMALL, pretrained=path)
    message = str(info.value)
    assert "'_fc.weight' has shape [1000, 512], the model expects [512, 1000]" in message
    assert "\n" not in message


def test_weights_of_another_architecture_are_refused(weights_file):
    with pytest.raises(WeightsError, match="lack key .* of MobileNetV3_small_x0_35"):
        zoo.create_model("MobileNetV3_small_x0_35", pretrained=weights_file)


def test_other_class_num_keeps_a_random_classifier(weights_file, source_model, capsys):
    model = zoo.create_model(SMALL, pretrained=weights_file, class_num=10)
    assert list(model._fc.weight.shape) == [512, 10]
    np.testing.assert_array_equal(model._conv1._conv.weight.numpy(), source_model._conv1._conv.weight.numpy())
    assert "classifier '_fc' left random (class_num=10" in capsys.readouterr().err
    assert list(model(paddle.zeros([1, 3, 224, 224])).shape) == [1, 10]


# ---------------------------------------------------------------------------------- URLs


def test_url_is_downloaded_into_the_cache_with_a_progress_bar(http_root, weights_file, source_model, tmp_path,
                                                               capsys):
    root, base = http_root
    (root / "dygraph").mkdir()
    (root / "dygraph" / weights_file.name).write_bytes(weights_file.read_bytes())
    url = f"{base}/dygraph/{weights_file.name}"
    cache = tmp_path / "cache"

    model = zoo.create_model(SMALL, pretrained=url, cache_dir=cache)

    assert_same_weights(model, source_model)
    cached = _pretrained.cache_path(url, cache)
    assert cached.read_bytes() == weights_file.read_bytes()
    assert cached.parent == cache / base.split("//")[1].replace(":", "_") / "dygraph"
    assert [p.name for p in cached.parent.iterdir()] == [weights_file.name]  # no temp file left
    assert "100%" in capsys.readouterr().err


def test_cached_download_is_reused_without_the_server(http_root, weights_file, tmp_path):
    root, base = http_root
    (root / weights_file.name).write_bytes(weights_file.read_bytes())
    url = f"{base}/{weights_file.name}"
    first = zoo.weights_path(SMALL, url, cache_dir=tmp_path / "cache")
    (root / weights_file.name).unlink()
    assert zoo.weights_path(SMALL, url, cache_dir=tmp_path / "cache") == first


def test_http_error_is_a_weights_error(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(WeightsError, match=r"cannot download .*/absent.pdparams: HTTP 404"):
        zoo.create_model(SMALL, pretrained=f"{base}/absent.pdparams", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()  # no file, and no empty folder made for it


def test_unreachable_server_is_a_weights_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WeightsError, match=f"cannot download http://127.0.0.1:{port}/w.pdparams"):
        zoo.create_model(SMALL, pretrained=f"http://127.0.0.1:{port}/w.pdparams", cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_checksum_and_size_mismatch_leave_nothing_in_the_cache(http_root, weights_file, tmp_path):
    root, base = http_root
    (root / "w.pdparams").write_bytes(weights_file.read_bytes())
    url = f"{base}/w.pdparams"
    cache = tmp_path / "cache"
    with pytest.raises(WeightsError, match="has sha256 [0-9a-f]{64}, expected 0{64}"):
        _pretrained.download(url, cache, sha256="0" * 64)
    with pytest.raises(WeightsError, match=r"has \d+ bytes, expected 12"):
        _pretrained.download(url, cache, num_bytes=12)
    assert not any(p.is_file() for p in cache.rglob("*"))


def test_stale_cache_failing_its_checksum_is_downloaded_again(http_root, weights_file, tmp_path, capsys):
    root, base = http_root
    (root / "w.pdparams").write_bytes(weights_file.read_bytes())
    url = f"{base}/w.pdparams"
    cache = tmp_path / "cache"
    stale = _pretrained.cache_path(url, cache)
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a download from an older edgekit")
    digest = hashlib.sha256(weights_file.read_bytes()).hexdigest()
    assert _pretrained.download(url, cache, sha256=digest).read_bytes() == weights_file.read_bytes()
    assert "fails its sha256 check" in capsys.readouterr().err


def test_pretrained_true_means_the_official_paddleclas_url(weights_file, source_model, tmp_path):
    official = zoo.model_entry(SMALL).pretrained.url
    assert official == "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/ShuffleNetV2_x0_25_pretrained.pdparams"
    # no network here: put the file where a download of the official URL would have left it
    cached = _pretrained.cache_path(official, tmp_path / "cache")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(weights_file.read_bytes())
    assert_same_weights(zoo.create_model(SMALL, pretrained=True, cache_dir=tmp_path / "cache"), source_model)


def test_default_cache_is_in_the_workspace(monkeypatch, workspace):
    monkeypatch.setenv("EDGEKIT_WORKSPACE", str(workspace))
    assert _pretrained.cache_path("https://h.example/a/b.pdparams") == workspace.resolve() / "cache" / "weights" / \
        "h.example" / "a" / "b.pdparams"


def test_ssld_models_know_their_distilled_weights():
    urls = {name: zoo.model_entry(name).pretrained.url for name in zoo.list_models() if name.endswith("_ssld")}
    base = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/"
    assert urls == {
        "MobileNetV1_ssld": base + "legendary_models/MobileNetV1_ssld_pretrained.pdparams",
        "MobileNetV2_ssld": base + "MobileNetV2_ssld_pretrained.pdparams",
        "MobileNetV3_large_x1_0_ssld": base + "legendary_models/MobileNetV3_large_x1_0_ssld_pretrained.pdparams",
        "MobileNetV3_small_x1_0_ssld": base + "legendary_models/MobileNetV3_small_x1_0_ssld_pretrained.pdparams",
    }
    assert all(zoo.model_entry(name).pretrained.distilled for name in urls)


# ----------------------------------------------------------------------------------- names


def test_int8_name_is_built_by_quantization_not_defined():
    with pytest.raises(UsageError, match="built by 'edgekit quantize MobileNetV3_large_x1_0_ssld'"):
        zoo.create_model("MobileNetV3_large_x1_0_ssld_int8")
    assert zoo.model_family("MobileNetV3_large_x1_0_ssld_int8") == "MobileNetV3"


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownModelError) as info:
        zoo.create_model("MobileNetV3_large_x1_0_sld")
    assert info.value.close_matches[0] == "MobileNetV3_large_x1_0_ssld"


def test_bad_class_num_is_a_usage_error():
    with pytest.raises(UsageError, match="class_num must be a positive integer"):
        zoo.create_model(SMALL, class_num=0)
