"""Convert: Paddle inference model → Paddle Lite ``.nb`` (naive_buffer) made by opt.

Steps: resolve the source (edgekit.resolve: a folder/.pdmodel, a zoo name, ``<zoo name>_int8``,
an .onnx file; with its deployment description, stored in the manifest), legalize a
copy of its program for Paddle Lite 2.13 (``edgekit.legalize``), run opt in a child process,
keep ``model.nb`` with opt's log in ``convert/<MODEL>/<key>/``. opt aborting, segfaulting or
returning without a .nb becomes one ConversionError that names the model, quotes opt's last
lines and lists the model's operators that have no kernel for the target.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Optional

from edgekit.artifacts import InferenceModel, Pretrained, Source, is_random_weights, manifest_weights, tool_version
from edgekit.description import DescriptionOverrides, ModelDescription
from edgekit.errors import ConfigError, ConversionError, InvalidInputError, UsageError
from edgekit.legalize import LEGALIZE_VERSION, QUANT_OPS
from edgekit.resolve import resolve_inference_model
from edgekit.workspace import Manifest, Workspace, atomic_write_text, building, read_manifest, write_manifest

STAGE = "convert"
NB_FILE = "model.nb"
OPT_LOG = "opt.log"
LEGALIZE_REPORT = "legalize.json"
OPT_TIMEOUT_S = 900.0

__all__ = ["LiteModel", "Target", "convert_model", "find_converted", "load_targets", "resolve_inference_model",
           "resolve_target", "run_opt", "supported_ops", "unsupported_ops"]


# ----------------------------------------------------------------------------------- targets


@dataclasses.dataclass(frozen=True)
class Target:
    """An entry of ``opt_configs/targets.yaml``."""

    name: str
    valid_targets: str
    description: str
    fp16: bool


def load_targets() -> dict[str, Target]:
    from edgekit.config import load_config

    targets = {}
    for name, entry in load_config("targets").items():
        if not isinstance(entry, dict) or not entry.get("valid_targets"):
            raise ConfigError(f"target {name!r} in targets.yaml needs a valid_targets string")
        targets[name] = Target(name=name, valid_targets=str(entry["valid_targets"]).replace(" ", ""),
                               description=str(entry.get("description", "")), fp16=bool(entry.get("fp16", False)))
    return targets


def resolve_target(name: str) -> Target:
    """A target by name (``arm``) or by its valid_targets string (``opencl,arm``)."""
    targets = load_targets()
    wanted = name.replace(" ", "")
    if wanted in targets:
        return targets[wanted]
    for target in targets.values():
        if target.valid_targets == wanted:
            return target
    known = ", ".join(f"{t.name} ({t.valid_targets})" for t in targets.values())
    raise ConfigError(f"unknown target {name!r} (known: {known}; defined in opt_configs/targets.yaml)")


# ------------------------------------------------------------------------------------ result


@dataclasses.dataclass(frozen=True)
class LiteModel:
    """A Paddle Lite .nb in the workspace (or given by the user)."""

    name: str
    nb_path: Path
    bytes: int
    sha256: str
    target: str
    fp16: bool
    source_model: str
    manifest: Manifest
    reused: bool

    @property
    def quantized(self) -> bool:
        """True when the source program held PaddleSlim's quantization ops (an int8 .nb)."""
        return bool(self.manifest.settings.get("quantized", False))

    @property
    def weights(self) -> Optional[str]:
        """The weights identity of the source model (see InferenceModel.weights), when recorded."""
        return manifest_weights(self.manifest)

    @property
    def random_weights(self) -> bool:
        return is_random_weights(self.weights)

    @property
    def description(self) -> Optional[ModelDescription]:
        """The source model's deployment description, as the manifest stores it."""
        stored = self.manifest.description
        return ModelDescription.from_dict(stored) if stored else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "nb_path": str(self.nb_path),
            "bytes": self.bytes,
            "mib": round(self.bytes / 2**20, 3),
            "sha256": self.sha256,
            "target": self.target,
            "valid_targets": self.manifest.settings.get("valid_targets"),
            "fp16": self.fp16,
            "quantized": self.quantized,
            "source_model": self.source_model,
            "legalized": self.manifest.settings.get("legalized", {}),
            "weights": self.weights,
            "description": self.description.summary() if self.description else None,
            "reused": self.reused,
        }


def lite_model_from_folder(folder: Path, *, reused: bool) -> LiteModel:
    manifest = read_manifest(folder)
    if manifest is None or NB_FILE not in manifest.files:
        raise InvalidInputError(f"{folder} is not a converted model (no manifest naming {NB_FILE})")
    described = manifest.files[NB_FILE]
    return LiteModel(name=manifest.model, nb_path=folder / NB_FILE, bytes=int(described["bytes"]),
                     sha256=described["sha256"], target=manifest.settings["target"],
                     fp16=bool(manifest.settings["fp16"]), source_model=manifest.inputs["source_model"],
                     manifest=manifest, reused=reused)


# ---------------------------------------------------------------------------------- convert


def convert_settings(model: InferenceModel, target: Target, fp16: bool) -> dict:
    return {
        "target": target.name,
        "valid_targets": target.valid_targets,
        "fp16": fp16,
        "optimize_out_type": "naive_buffer",
        "source": model.identity(),
        "description": model.description.digest() if model.description else None,
        "paddlelite": tool_version("paddlelite"),
        "legalize": LEGALIZE_VERSION,
    }


def find_converted(model: InferenceModel, workspace: Workspace, *, target: str = "arm",
                   fp16: bool = False) -> Optional[LiteModel]:
    """The finished conversion of ``model`` with these settings, or None; runs nothing."""
    found = workspace.find(STAGE, model.name, convert_settings(model, resolve_target(target), fp16))
    return lite_model_from_folder(found, reused=True) if found is not None else None


def checked_target(target: str, fp16: bool) -> Target:
    """The target, refusing fp16 where it has no fp16 kernels: checked before any model work."""
    chosen = resolve_target(target)
    if fp16 and not chosen.fp16:
        raise UsageError(f"--fp16 applies to ARM kernels only; target {chosen.name!r} "
                         f"({chosen.valid_targets}) has no fp16 mode")
    return chosen


def convert_model(source: Source, workspace: Workspace, *, target: str = "arm", fp16: bool = False,
                  pretrained: Pretrained = None, overrides: Optional[DescriptionOverrides] = None,
                  force: bool = False) -> LiteModel:
    """The .nb of ``source`` for ``target`` (converted now, or reused from the workspace).

    ``source`` is anything ``resolve_inference_model`` takes (``pretrained`` goes with a zoo
    name, ``overrides`` are description flags); the target is checked first. ``force`` runs opt
    again; the source is reused. The manifest stores the source's description."""
    chosen = checked_target(target, fp16)
    model = resolve_inference_model(source, workspace, pretrained=pretrained, overrides=overrides)
    settings = convert_settings(model, chosen, fp16)
    found = None if force else find_converted(model, workspace, target=chosen.name, fp16=fp16)
    if found is not None:
        return found

    final = workspace.artifact_dir(STAGE, model.name, settings)
    with building(final) as tmp:
        report = _legalize_and_optimize(model, chosen, fp16, tmp)
        write_manifest(tmp, stage=STAGE, model=model.name,
                       settings={**settings, "quantized": report["quantized"], "legalized": report["fixes"]},
                       inputs={"source_model": str(model.directory), **settings["source"], "weights": model.weights},
                       tools={"paddlelite": tool_version("paddlelite")},
                       description=model.description.to_dict() if model.description else None)
    return lite_model_from_folder(final, reused=False)


def _legalize_and_optimize(model: InferenceModel, target: Target, fp16: bool, folder: Path) -> dict:
    """Legalize a copy of the program into ``folder``, run opt there, leave model.nb + logs."""
    from edgekit.legalize import legalize_model_file, program_ops, read_program, summarize_fixes

    with tempfile.TemporaryDirectory(prefix="legalized.", dir=folder) as scratch:
        legal = Path(scratch) / "inference.pdmodel"
        fixes = legalize_model_file(model.model_file, legal)
        ops = program_ops(read_program(legal))
        report = {"fixes": summarize_fixes(fixes), "ops": ops, "quantized": bool(QUANT_OPS.intersection(ops))}
        run_opt(legal, model.params_file, folder / "model", target.valid_targets, fp16=fp16,
                model_name=model.name, model_ops=ops, log_file=folder / OPT_LOG)
    atomic_write_text(folder / LEGALIZE_REPORT, json.dumps(report, indent=2) + "\n")
    return report


# -------------------------------------------------------------------------------------- opt


def run_opt(model_file: Path, params_file: Path, optimize_out: Path, valid_targets: str, *, fp16: bool = False,
            model_name: Optional[str] = None, model_ops: Optional[list[str]] = None,
            log_file: Optional[Path] = None, timeout: float = OPT_TIMEOUT_S) -> Path:
    """Run opt as it is (no legalization) in a child process; the .nb path, or ConversionError."""
    from edgekit._workers.runner import run_worker

    args = ["optimize", "--model-file", str(model_file), "--param-file", str(params_file),
            "--valid-targets", valid_targets, "--optimize-out", str(optimize_out)]
    if fp16:
        args.append("--enable-fp16")
    result = run_worker("opt", args, timeout=timeout)
    if log_file is not None:
        atomic_write_text(log_file, result.output)
    nb = Path(str(optimize_out) + ".nb")
    if result.ok and nb.is_file() and nb.stat().st_size > 0:
        return nb
    nb.unlink(missing_ok=True)
    name = model_name or str(model_file)
    message = f"opt failed on {name} (valid_targets={valid_targets}): {result.describe_exit()}; " \
              f"opt said: {result.last_lines()}"
    unsupported = unsupported_ops(model_ops if model_ops is not None else _ops_of(model_file), valid_targets)
    if unsupported:
        message += f"; operators with no kernel for {valid_targets} in Paddle Lite: {', '.join(unsupported)}"
    raise ConversionError(message)


def _ops_of(model_file: Path) -> list[str]:
    from edgekit.legalize import program_ops, read_program

    try:
        return program_ops(read_program(model_file))
    except InvalidInputError:
        return []


def supported_ops(valid_targets: str) -> set[str]:
    """Operator types Paddle Lite has kernels for on ``valid_targets`` (opt's own table)."""
    from edgekit._workers.runner import run_worker

    result = run_worker("opt", ["supported-ops", "--valid-targets", valid_targets], timeout=120)
    supported = set()
    for line in result.output.splitlines():
        fields = line.split()
        # Table rows: "<op_name>  Y  Y" with a Y under each place that has a kernel.
        if len(fields) >= 2 and fields[0] != "OP_name" and "Y" in fields[1:]:
            supported.add(fields[0])
    return supported


def unsupported_ops(ops: list[str], valid_targets: str) -> list[str]:
    """The ops of a model that opt's table lists no kernel for (empty when the table is unreadable)."""
    if not ops:
        return []
    supported = supported_ops(valid_targets)
    if not supported:
        return []
    # Quantization ops have no kernels on purpose: opt folds them into the ops they wrap.
    return [op for op in ops if op not in supported and op not in QUANT_OPS]
