"""The text ``edgekit quantize`` prints for a quantization report (``--json`` prints the report)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from edgekit.quantize import QuantizedModel

if TYPE_CHECKING:
    from edgekit.sensitivity import Sensitivity


def format_report(result: QuantizedModel) -> str:
    """The text ``edgekit quantize`` prints."""
    report = result.report
    lines = [f"{result.model.name}{'  (reused)' if result.reused else ''}",
             f"  artifact     {result.model.directory}"]
    settings = report.get("settings", {})
    if settings:
        lines.append(f"  preset       {report.get('preset') or '(none)'}: algo {settings['algo']}, "
                     f"weights {settings['weight_quantize_type']}, ops {', '.join(settings['quantizable_op_type'])}")
    layers = report.get("layers")
    if layers:
        kept = ", ".join(f"{k['layer']} ({k['reason']})" for k in layers["kept_float"][:4])
        more = f", +{layers['float'] - 4} more" if layers["float"] > 4 else ""
        lines.append(f"  layers       {layers['int8']} of {layers['total']} int8"
                     + (f"; float: {kept}{more}" if kept else ""))
        for pattern, names in layers.get("skip_resolved", {}).items():
            lines.append(f"  --skip       {pattern} -> {', '.join(names)}")
    if "calibration" in report:
        calibrated = report["calibration"]
        lines.append(f"  calibration  {calibrated['count']} images from {calibrated['source']}"
                     + (f" ({calibrated['limit']})" if calibrated.get("limit") else ""))
    fid = report.get("fidelity")
    if fid and fid.get("images"):
        lines.append(f"  fidelity     top-1 agreement {fid['top1_agreement']:.3f}, cosine mean {fid['cosine_mean']:.4f} "
                     f"(min {fid['cosine_min']:.4f}) on {fid['images']} held-out images")
        lines.append(f"               {fid['held_out'].get('note', '')}")
    ev = report.get("eval")
    if ev:
        def accuracy(figures: dict) -> str:
            return f"top-1 {figures['top1']:.4f}" + (f" top-5 {figures['top5']:.4f}" if "top5" in figures else "")

        lines.append(f"  eval         {ev['images']} images of {ev['dir']}: fp32 {accuracy(ev['fp32'])} | "
                     f"int8 {accuracy(ev['int8'])}")
        lines.append(f"               top-1 agreement {ev['top1_agreement']:.3f}; {ev['labels']}; {ev['note']}")
    sizes = report.get("sizes")
    if sizes:
        lines.append(f"  weights      {sizes['fp32_params_bytes'] / 1e6:.2f} MB fp32 -> "
                     f"{sizes['int8_params_bytes'] / 1e6:.2f} MB int8 (.pdiparams)")
    seconds = report.get("seconds")
    if seconds:
        lines.append(f"  time         {seconds['total']:.1f} s (PaddleSlim {seconds['paddleslim']:.1f} s, "
                     f"fidelity {seconds['fidelity']:.1f} s)")
    if report.get("tuning"):
        lines += _tuning_lines(report["tuning"])
    if report.get("images"):
        lines += _images_lines(report["images"])
    if report.get("note"):
        lines.append(f"  note         {report['note']}")
    return "\n".join(lines)


def format_analysis(sensitivity: "Sensitivity", plot: Optional[str] = None) -> str:
    """The ranked table ``edgekit quantize --analyze`` prints."""
    images = sensitivity.images
    labelled = images.get("labelled")
    lines = [f"{sensitivity.model}: layer sensitivity ({sensitivity.int8_model}, one layer int8 at a time: its "
             "weights and its input)",
             f"  images       {images['count']} from {images['source']}"
             + (f" ({images['note']})" if images.get("note") else ""),
             f"  whole int8   cosine {sensitivity.int8['cosine']:.4f}, top-1 agreement "
             f"{sensitivity.int8['top1_agreement']:.3f}"
             + (f", top-1 {sensitivity.int8['top1']:.3f} (fp32 {sensitivity.fp32['top1']:.3f})" if labelled else ""),
             ""]
    rows = [["rank", "layer", "op", "1-cosine", "agreement", *(["top-1"] if labelled else []), "rmse/step",
             "weight bytes"]]
    for e in sensitivity.layers:
        rows.append([str(e["rank"]), e["layer"], e["op_type"], f"{1 - e['cosine']:.2e}", f"{e['top1_agreement']:.3f}",
                     *([f"{e['top1']:.3f}"] if labelled else []), f"{e['rmse_over_scale']:.2f}",
                     str(e["weight_bytes_fp32"])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  " + "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
              for r in rows]
    lines.append("")
    lines.append(f"  time         {sensitivity.seconds:.1f} s; rmse/step above ~0.7 is the TFLite debugger's "
                 "keep-float signal")
    if plot:
        lines.append(f"  chart        {plot}")
    return "\n".join(lines)


def _tuning_lines(tuning: dict) -> list[str]:
    kept = tuning["kept_float"]
    verified = tuning["verified"]
    by_drop = tuning["target"].get("max_drop") is not None
    figure = (f"top-1 {verified['top1']:.4f} (fp32 {tuning['tune']['fp32_top1']:.4f}, drop "
              f"{verified['drop_points']:.2f} points)" if "top1" in verified
              else f"top-1 agreement {verified['agreement_percent']:.1f}%")
    lines = [f"  tuning       {'target met' if tuning['target_met'] else 'TARGET NOT MET'}: {tuning['target_text']}",
             f"               {len(kept)} layer(s) kept float"
             + (": " + ", ".join(f"{k['layer']} (rank {k['rank']}, +{k['extra_bytes']} B)" for k in kept)
                if kept else ""),
             f"               tune {tuning['tune']['images']} images of {tuning['tune']['dir']}: {figure}",
             "               steps " + "; ".join(
                 f"{s['float_layers']} float: " + (f"drop {s['drop_points']:.2f}" if by_drop
                                                   else f"agree {s['agreement_percent']:.1f}%")
                 for s in tuning["steps"]),
             f"               {tuning['seconds']['total']:.1f} s in all (one plain quantization "
             f"{tuning['seconds']['plain_quantization'] or 0:.1f} s)"]
    if not tuning["target_met"]:
        lines.append(f"               best model found: {tuning['best_model']}")
    return lines


def _images_lines(images: dict) -> list[str]:
    return [f"  images       {role}: {entry['count']} from {entry['source']} ({entry['role']})"
            for role, entry in images.items() if isinstance(entry, dict)]
