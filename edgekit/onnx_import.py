"""Import: an ONNX model → a Paddle inference model, converted by X2Paddle and checked by onnxruntime.

Steps: read the file with the ``onnx`` library (a file that is not a valid ONNX model is refused
by name); work out its description (a deploy config given or found beside the file, else
ImageNet preprocessing at its input size; flags override) and from it the input shape to fix
(batch 1; a dynamic height/width needs a size from the description or ``--input-size``); adapt a
copy of the graph to what X2Paddle 1.6 can convert (``adapt_graph``); run X2Paddle in a child
process (``edgekit._workers.x2paddle``: it imports generated code and switches paddle's mode);
fold the activations and scalar constants it spells out in several operators back into Paddle's
``hard_swish``, ``hard_sigmoid`` and ``scale`` (``edgekit.fuse``: a phone runs each as one pass,
as in PaddleClas's own export);
then run the converted model with Paddle Inference and the original with onnxruntime on the same
inputs — the shipped photographs preprocessed as the description says, plus one seeded random
tensor — and keep the result only when they agree: the same top-1 on every input and outputs
within ``CHECK_RTOL`` of onnxruntime's. The artifact is ``import/<stem>/<key>/`` (inference.pdmodel,
inference.pdiparams, onnx_check.json), keyed by the ONNX file's sha256, the fixed input shape,
the description and the tools' versions; the same request reuses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np

from edgekit.artifacts import MODEL_FILE, PARAMS_FILE, InferenceModel, load_inference_model, tool_version
from edgekit.description import DescriptionOverrides, ModelDescription, check_labels, default_description, \
    find_config, read_config, shape_text
from edgekit.errors import InvalidInputError, OnnxConversionError
from edgekit.fuse import fuse_model_file
from edgekit.workspace import Workspace, atomic_write_text, building, read_manifest, sha256_file, write_manifest

if TYPE_CHECKING:
    import onnx

STAGE = "import"
CHECK_FILE = "onnx_check.json"
X2PADDLE_LOG = "x2paddle.log"
# Bumped whenever adapt_graph or edgekit.fuse changes what they write: part of the artifact key.
ADAPTER_VERSION = 4
# The check's tolerance: max |Paddle - onnxruntime| over an output, divided by max |onnxruntime|.
# Measured on the two test models: 1e-7 .. 3e-6; a wrong conversion is off by O(1).
CHECK_RTOL = 1e-3
CHECK_SEED = 0
X2PADDLE_TIMEOUT_S = 900.0
# ONNX's TensorProto.FLOAT: the only input type edgekit feeds.
_ONNX_FLOAT = 1
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]+")

__all__ = ["CHECK_RTOL", "ImportedModel", "OnnxCheck", "adapt_graph", "describe_onnx",
           "import_onnx", "onnx_input_shape", "read_onnx"]


# ------------------------------------------------------------------------------------ result


@dataclasses.dataclass(frozen=True)
class OnnxCheck:
    """The converted model against onnxruntime on the same inputs."""

    inputs: tuple[str, ...]  # what each input was: an image path, or "random (seed 0)"
    onnxruntime_top1: tuple[int, ...]
    paddle_top1: tuple[int, ...]
    max_rel_diff: float  # the largest max|paddle - ort| / max|ort| over the inputs
    rtol: float

    @property
    def passed(self) -> bool:
        return self.onnxruntime_top1 == self.paddle_top1 and self.max_rel_diff <= self.rtol

    def to_dict(self) -> dict:
        return {"inputs": list(self.inputs), "onnxruntime_top1": list(self.onnxruntime_top1),
                "paddle_top1": list(self.paddle_top1), "max_rel_diff": self.max_rel_diff, "rtol": self.rtol,
                "passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict) -> "OnnxCheck":
        return cls(tuple(data["inputs"]), tuple(data["onnxruntime_top1"]), tuple(data["paddle_top1"]),
                   float(data["max_rel_diff"]), float(data["rtol"]))


@dataclasses.dataclass(frozen=True)
class ImportedModel:
    """An ONNX model converted to a Paddle inference model in the workspace."""

    model: InferenceModel
    onnx_file: Path
    onnx_sha256: str
    description: ModelDescription
    check: OnnxCheck
    adaptations: dict  # what adapt_graph and the fusion changed: {"HardSwish": n, "renamed": n, ...}
    reused: bool

    def to_dict(self) -> dict:
        return {"name": self.model.name, "onnx_file": str(self.onnx_file), "onnx_sha256": self.onnx_sha256,
                "directory": str(self.model.directory), "model_file": str(self.model.model_file),
                "params_file": str(self.model.params_file), "input_shape": list(self.model.input_shape),
                "description": self.description.summary(), "adaptations": self.adaptations,
                "check": self.check.to_dict(), "reused": self.reused}


# ------------------------------------------------------------------------------- reading ONNX


def read_onnx(path: Union[str, Path]) -> "onnx.ModelProto":
    """The model in ``path``, checked by onnx's checker; InvalidInputError naming the file otherwise."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path).expanduser()
    if not path.is_file():
        raise InvalidInputError(f"ONNX file {path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        model = onnx.load(str(path))
    except (DecodeError, ValueError, RuntimeError, OSError) as e:
        raise InvalidInputError(f"{path} is not an ONNX model ({_first_line(e)})") from None
    # Protobuf parses many non-ONNX byte strings into an empty message: a model has a graph with nodes.
    if not model.graph.node or not model.opset_import:
        raise InvalidInputError(f"{path} is not an ONNX model (no graph nodes or no opset)")
    try:
        onnx.checker.check_model(str(path))  # by path: models past 2 GB keep their weights outside
    except (onnx.checker.ValidationError, ValueError, RuntimeError) as e:
        raise InvalidInputError(f"{path} is not a valid ONNX model: {_first_line(e)}") from None
    return model


def _graph_input(model: "onnx.ModelProto", path: Path) -> Any:
    """The one real input of the graph (older exporters also list the initializers as inputs)."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise InvalidInputError(f"{path} has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}): "
                                "edgekit imports image classifiers with one input")
    tensor = inputs[0].type.tensor_type
    if tensor.elem_type != _ONNX_FLOAT:
        raise InvalidInputError(f"{path}: input {inputs[0].name!r} is not float32 (ONNX type {tensor.elem_type})")
    return inputs[0]


def onnx_input_shape(model: "onnx.ModelProto", path: Union[str, Path] = "the model") -> tuple[int, ...]:
    """The input's shape, -1 for each dynamic dimension."""
    dims = _graph_input(model, Path(path)).type.tensor_type.shape.dim
    return tuple(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else -1 for d in dims)


def onnx_output_classes(model: "onnx.ModelProto") -> Optional[int]:
    """The class count of the first output when its shape is (N, classes) with a fixed last dim."""
    dims = model.graph.output[0].type.tensor_type.shape.dim if model.graph.output else []
    if len(dims) < 2 or not dims[-1].HasField("dim_value") or dims[-1].dim_value <= 0:
        return None
    return int(dims[-1].dim_value)


def default_opset(model: "onnx.ModelProto") -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


# ------------------------------------------------------------------------------- description


def describe_onnx(path: Union[str, Path], overrides: Optional[DescriptionOverrides] = None, *,
                  model: Optional["onnx.ModelProto"] = None) -> ModelDescription:
    """The description of an ONNX model: the deploy config of ``overrides`` or one beside the file
    (edgekit.description.find_config), else ImageNet preprocessing at its input size; then the flags."""
    path = Path(path).expanduser()
    model = model if model is not None else read_onnx(path)
    shape = onnx_input_shape(model, path)
    overrides = overrides or DescriptionOverrides()
    beside = find_config(path.parent) if overrides.config is None else None
    base = read_config(beside, shape) if beside is not None else default_description(shape)
    return overrides.apply(base, shape)


def fixed_input_shape(shape: Sequence[int], description: ModelDescription, path: Path) -> tuple[int, int, int, int]:
    """The NCHW shape the converted model gets: batch 1 (edgekit runs one sample at a time), the
    fixed dims as they are, dynamic H/W from the description (UsageError when it gives none)."""
    if len(shape) != 4:
        raise InvalidInputError(f"{path}: input shape {shape_text(shape)} is not (N, C, H, W)")
    if shape[0] > 1:
        raise InvalidInputError(f"{path}: the input's batch is fixed at {shape[0]}; edgekit runs batch 1")
    if shape[1] not in (-1, 3):
        raise InvalidInputError(f"{path}: input shape {shape_text(shape)} is not (N, 3, H, W): edgekit feeds RGB images")
    height, width = description.feed_hw()
    return 1, 3, height, width


# ------------------------------------------------------------------------------- adaptation


def adapt_graph(model: "onnx.ModelProto", input_shape: Sequence[int]) -> tuple["onnx.ModelProto", dict]:
    """A copy of ``model`` that X2Paddle 1.6 converts, and what was changed:

    - ``HardSwish`` (ONNX opset 14, what paddle2onnx writes for PP-LCNet and MobileNetV3) has no
      X2Paddle mapping: it becomes ``x * HardSigmoid(x, alpha=1/6, beta=0.5)``, the same function;
    - X2Paddle writes every tensor name into generated Python code after replacing only `` .*?\\/-:;``,
      so ``Constant@0`` (PaddlePaddle's own exports) is a syntax error: every name that is not
      ``[A-Za-z0-9_]+`` is renamed to one that is (unique);
    - X2Paddle reads a convolution's window from its ``kernel_shape`` attribute, which ONNX makes
      optional (the weight's shape says it): where it is missing, it is written from the weight;
    - the input's dynamic dimensions are fixed to ``input_shape``;
    - X2Paddle takes the model's opset from the first ``opset_import`` entry: the default domain's
      is put first.
    """
    import onnx
    from onnx import helper

    adapted = onnx.ModelProto()
    adapted.CopyFrom(model)
    graph = adapted.graph
    changes: dict[str, Any] = {"HardSwish": _rewrite_hardswish(graph, helper)}
    changes["kernel_shape"] = _write_kernel_shapes(graph, helper)
    changes["renamed"] = _rename_to_identifiers(graph)
    changes["fixed_input"] = _fix_input_shape(adapted, input_shape)
    _default_opset_first(adapted)
    return adapted, changes


def _rewrite_hardswish(graph: Any, helper: Any) -> int:
    nodes, count = [], 0
    for node in graph.node:
        if node.op_type != "HardSwish" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        count += 1
        gate = f"{node.output[0]}__hardswish_gate"
        nodes.append(helper.make_node("HardSigmoid", [node.input[0]], [gate], alpha=1.0 / 6.0, beta=0.5,
                                      name=f"{node.name or node.output[0]}__hardsigmoid"))
        nodes.append(helper.make_node("Mul", [node.input[0], gate], [node.output[0]],
                                      name=f"{node.name or node.output[0]}__mul"))
    if count:
        del graph.node[:]
        graph.node.extend(nodes)
    return count


def _write_kernel_shapes(graph: Any, helper: Any) -> int:
    weights = {t.name: list(t.dims) for t in graph.initializer}
    count = 0
    for node in graph.node:
        if node.op_type not in ("Conv", "ConvTranspose") or len(node.input) < 2:
            continue
        if any(a.name == "kernel_shape" for a in node.attribute) or len(weights.get(node.input[1], [])) < 3:
            continue
        node.attribute.append(helper.make_attribute("kernel_shape", weights[node.input[1]][2:]))
        count += 1
    return count


def _rename_to_identifiers(graph: Any) -> int:
    names: set[str] = set()
    for node in graph.node:
        names.update(node.input)
        names.update(node.output)
    for collection in (graph.input, graph.output, graph.value_info, graph.initializer):
        names.update(item.name for item in collection)
    names.discard("")  # an omitted optional input
    taken = {name for name in names if _IDENTIFIER.fullmatch(name)}
    mapping: dict[str, str] = {}
    for name in sorted(names - taken):
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)
        candidate, number = base, 1
        while candidate in taken:
            candidate, number = f"{base}_{number}", number + 1
        taken.add(candidate)
        mapping[name] = candidate
    if not mapping:
        return 0
    for node in graph.node:
        node.input[:] = [mapping.get(name, name) for name in node.input]
        node.output[:] = [mapping.get(name, name) for name in node.output]
    for collection in (graph.input, graph.output, graph.value_info, graph.initializer):
        for item in collection:
            item.name = mapping.get(item.name, item.name)
    return len(mapping)


def _fix_input_shape(model: Any, input_shape: Sequence[int]) -> list[int]:
    graph_input = _graph_input(model, Path("the model"))
    dims = graph_input.type.tensor_type.shape.dim
    for dim, value in zip(dims, input_shape):
        dim.ClearField("dim_param")
        dim.dim_value = int(value)
    return [int(v) for v in input_shape]


def _default_opset_first(model: Any) -> None:
    entries = list(model.opset_import)
    ordered = sorted(entries, key=lambda o: o.domain not in ("", "ai.onnx"))
    if [o.domain for o in ordered] != [o.domain for o in entries]:
        copies = [type(o)() for o in ordered]
        for copy, original in zip(copies, ordered):
            copy.CopyFrom(original)
        del model.opset_import[:]
        model.opset_import.extend(copies)


# ------------------------------------------------------------------------------------ import


def import_settings(onnx_sha256: str, input_shape: Sequence[int], description: ModelDescription) -> dict:
    return {"onnx_sha256": onnx_sha256, "input_shape": list(input_shape), "description": description.digest(),
            "x2paddle": tool_version("x2paddle"), "onnx": tool_version("onnx"),
            "paddlepaddle": tool_version("paddlepaddle"), "adapter": ADAPTER_VERSION}


def onnx_sha256(path: Path) -> str:
    """The sha256 of the ONNX file, or, when its weights are stored apart (external data, as
    torch.onnx.export writes models past 2 GB), of the file and of every data file it names: new
    weights in a data file beside an unchanged .onnx make a new import, never a stale reuse."""
    import onnx

    sha = sha256_file(path)
    proto = onnx.load(str(path), load_external_data=False)
    tensors = list(proto.graph.initializer) + [a.t for n in proto.graph.node for a in n.attribute if a.HasField("t")]
    locations = sorted({entry.value for t in tensors if t.data_location == onnx.TensorProto.EXTERNAL
                        for entry in t.external_data if entry.key == "location"})
    if not locations:
        return sha
    digest = hashlib.sha256(sha.encode())
    for location in locations:
        digest.update(f"\n{location}\n{sha256_file(path.parent / location)}".encode())
    return digest.hexdigest()


def model_name(path: Path) -> str:
    """The name an imported model goes by: the file's stem, made safe for a folder name."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", path.stem) or "model"


def import_onnx(onnx_path: Union[str, Path], workspace: Workspace, *,
                overrides: Optional[DescriptionOverrides] = None, force: bool = False) -> ImportedModel:
    """``onnx_path`` as a checked Paddle inference model (converted now, or reused).

    ``overrides``: the deploy config and flags (edgekit.description); without a config, one
    beside the file is used. InvalidInputError for a file that is not an ONNX model, UsageError
    when a dynamic input size is not given, OnnxConversionError when X2Paddle cannot convert the
    model (naming the operators it lacks) or its result disagrees with onnxruntime; no artifact
    is left in any of these cases."""
    path = Path(onnx_path).expanduser()
    model = read_onnx(path)
    description, shape = _description_and_shape(path, model, overrides)
    sha = onnx_sha256(path)
    settings = import_settings(sha, shape, description)
    name = model_name(path)
    if not force:
        found = workspace.find(STAGE, name, settings)
        if found is not None:
            return _imported_from_folder(found, path, reused=True)
    adapted, changes = adapt_graph(model, shape)
    final = workspace.artifact_dir(STAGE, name, settings)
    with building(final) as tmp:
        _convert(adapted, tmp, path)
        changes["fused"] = fuse_model_file(tmp / MODEL_FILE)
        load_inference_model(tmp, description=description)  # labels that do not count its classes: refused
        check = check_against_onnxruntime(path, tmp / MODEL_FILE, tmp / PARAMS_FILE, description, shape)
        if not check.passed:
            raise OnnxConversionError(_disagreement(path, check))
        atomic_write_text(tmp / CHECK_FILE, json.dumps({"check": check.to_dict(), "adaptations": changes},
                                                       indent=2) + "\n")
        write_manifest(tmp, stage=STAGE, model=name, settings=settings,
                       inputs={"onnx_file": str(path), "onnx_sha256": sha, "weights": f"sha256:{sha}"},
                       tools={"x2paddle": tool_version("x2paddle"), "onnx": tool_version("onnx"),
                              "onnxruntime": tool_version("onnxruntime"),
                              "paddlepaddle": tool_version("paddlepaddle")},
                       description=description.to_dict())
    return _imported_from_folder(final, path, reused=False)


def _description_and_shape(path: Path, model: Any, overrides: Optional[DescriptionOverrides]
                           ) -> tuple[ModelDescription, tuple[int, int, int, int]]:
    """The description, with its input shape set to the fixed shape the converted model gets."""
    described = describe_onnx(path, overrides, model=model)
    check_labels(described, onnx_output_classes(model), str(path),  # before any conversion work
                 overrides.labels if overrides is not None else None)
    shape = fixed_input_shape(onnx_input_shape(model, path), described, path)
    return dataclasses.replace(described, input_shape=shape), shape


def _imported_from_folder(folder: Path, onnx_path: Path, *, reused: bool) -> ImportedModel:
    manifest = read_manifest(folder)
    if manifest is None or manifest.description is None:
        raise InvalidInputError(f"{folder} is not an imported ONNX model (no manifest with a description)")
    report = json.loads((folder / CHECK_FILE).read_text())
    return ImportedModel(model=load_inference_model(folder, reused=reused), onnx_file=onnx_path,
                         onnx_sha256=manifest.inputs["onnx_sha256"],
                         description=ModelDescription.from_dict(manifest.description),
                         check=OnnxCheck.from_dict(report["check"]), adaptations=report["adaptations"], reused=reused)


def _convert(adapted: Any, folder: Path, path: Path) -> None:
    """X2Paddle in a child process; inference.pdmodel/.pdiparams (and its log) left in ``folder``."""
    import onnx

    from edgekit._workers.runner import run_worker

    # X2Paddle's scratch (generated code, a dygraph copy of the weights) beside the artifact, on the
    # workspace's disk: the two files kept are renamed out of it, the rest goes with it.
    with tempfile.TemporaryDirectory(prefix="x2paddle.", dir=folder) as scratch:
        adapted_file, save_dir, result_file = (Path(scratch) / "adapted.onnx", Path(scratch) / "out",
                                               Path(scratch) / "result.json")
        onnx.save(adapted, str(adapted_file))
        run = run_worker("x2paddle", ["--onnx", str(adapted_file), "--save-dir", str(save_dir),
                                      "--result", str(result_file)], timeout=X2PADDLE_TIMEOUT_S)
        atomic_write_text(folder / X2PADDLE_LOG, run.output)
        try:
            result = json.loads(result_file.read_text())
        except (OSError, ValueError):
            result = {"ok": False, "error": f"X2Paddle {run.describe_exit()}; it said: {run.last_lines()}"}
        if result.get("unsupported_ops"):
            ops = ", ".join(result["unsupported_ops"])
            raise OnnxConversionError(f"X2Paddle cannot convert {path}: no mapping for operator(s) {ops} "
                                      f"(opset {default_opset(adapted)})")
        if not result.get("ok") or not run.ok:
            raise OnnxConversionError(f"X2Paddle failed on {path}: {result.get('error') or run.describe_exit()}")
        produced = save_dir / "inference_model"
        shutil.move(str(produced / "model.pdmodel"), folder / MODEL_FILE)
        shutil.move(str(produced / "model.pdiparams"), folder / PARAMS_FILE)


# ------------------------------------------------------------------------------------- check


def check_inputs(description: ModelDescription, shape: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """The check's inputs: the shipped photographs preprocessed as the description says, then one
    seeded standard-normal tensor (values outside any image's statistics)."""
    from edgekit.preprocess import Transform, sample_images

    images = sample_images()
    batch = Transform(description.preprocess).batch(images)
    if batch.shape[1:] != tuple(shape[1:]):
        raise InvalidInputError(f"the preprocessing ({description.source}) makes {shape_text(batch.shape[1:])} "
                                f"tensors; the model takes {shape_text(shape[1:])}")
    noise = np.random.RandomState(CHECK_SEED).standard_normal((1, *shape[1:])).astype(np.float32)
    return [str(p) for p in images] + [f"random (seed {CHECK_SEED})"], np.concatenate([batch, noise])


def check_against_onnxruntime(onnx_path: Path, model_file: Path, params_file: Path,
                              description: ModelDescription, shape: Sequence[int]) -> OnnxCheck:
    """Run the ONNX model (onnxruntime) and the converted one (Paddle Inference) on check_inputs."""
    from edgekit._paddle import error_gist, run_paddle_inference

    names, batch = check_inputs(description, shape)
    try:
        expected = run_onnxruntime(onnx_path, batch)
    except Exception as e:  # onnxruntime's own exception classes (Fail, InvalidGraph, ...)
        raise OnnxConversionError(f"onnxruntime cannot run {onnx_path}, so its conversion cannot be checked: "
                                  f"{_first_line(e)}") from None
    try:
        got = run_paddle_inference(model_file, params_file, batch).reshape(expected.shape)
    except Exception as e:  # paddle's enforce errors, or outputs of another size than onnxruntime's
        raise OnnxConversionError(f"Paddle Inference cannot run the conversion of {onnx_path}: "
                                  f"{error_gist(e)}") from None
    rel = [float(np.abs(g - e).max() / max(float(np.abs(e).max()), 1e-12)) for g, e in zip(got, expected)]
    expected_top1, got_top1 = [int(np.argmax(e)) for e in expected], [int(np.argmax(g)) for g in got]
    for i, (e, g) in enumerate(zip(expected_top1, got_top1)):
        # Two classes onnxruntime scores equal within the tolerance are a tie, not a disagreement.
        if e != g and abs(float(expected[i][e] - expected[i][g])) <= CHECK_RTOL * float(np.abs(expected[i]).max()):
            got_top1[i] = e
    return OnnxCheck(tuple(names), tuple(expected_top1), tuple(got_top1), max(rel), CHECK_RTOL)


def run_onnxruntime(onnx_path: Path, batch: np.ndarray) -> np.ndarray:
    """Outputs (N, classes) of the ONNX model's first output, one sample at a time, on CPU."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    feed = session.get_inputs()[0].name
    return np.stack([np.asarray(session.run(None, {feed: sample[None]})[0], dtype=np.float32).reshape(-1)
                     for sample in batch])


def _disagreement(path: Path, check: OnnxCheck) -> str:
    wrong = [name for name, e, g in zip(check.inputs, check.onnxruntime_top1, check.paddle_top1) if e != g]
    top1 = f"top-1 differs on {len(wrong)} of {len(check.inputs)} inputs ({Path(wrong[0]).name}" \
           f"{', ...' if len(wrong) > 1 else ''}); " if wrong else ""
    return (f"the conversion of {path} disagrees with onnxruntime: {top1}max relative difference "
            f"{check.max_rel_diff:.3g} (tolerance {check.rtol:g}); nothing was kept")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."
