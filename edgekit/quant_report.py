"""The text ``edgekit quantize`` prints for a quantization report (``--json`` prints the report)."""

from __future__ import annotations

from edgekit.quantize import QuantizedModel


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
    if "calibration" in report:
        lines.append(f"  calibration  {report['calibration']['count']} images from {report['calibration']['source']}")
    fid = report.get("fidelity")
    if fid and fid.get("images"):
        lines.append(f"  fidelity     top-1 agreement {fid['top1_agreement']:.3f}, cosine mean {fid['cosine_mean']:.4f} "
                     f"(min {fid['cosine_min']:.4f}) on {fid['images']} held-out images")
        lines.append(f"               {fid['held_out'].get('note', '')}")
    ev = report.get("eval")
    if ev:
        lines.append(f"  eval         {ev['images']} images of {ev['dir']}: fp32 top-1 {ev['fp32']['top1']:.4f} top-5 "
                     f"{ev['fp32']['top5']:.4f} | int8 top-1 {ev['int8']['top1']:.4f} top-5 {ev['int8']['top5']:.4f}")
        lines.append(f"               top-1 agreement {ev['top1_agreement']:.3f}; {ev['labels']}; {ev['note']}")
    sizes = report.get("sizes")
    if sizes:
        lines.append(f"  weights      {sizes['fp32_params_bytes'] / 1e6:.2f} MB fp32 -> "
                     f"{sizes['int8_params_bytes'] / 1e6:.2f} MB int8 (.pdiparams)")
    seconds = report.get("seconds")
    if seconds:
        lines.append(f"  time         {seconds['total']:.1f} s (PaddleSlim {seconds['paddleslim']:.1f} s, "
                     f"fidelity {seconds['fidelity']:.1f} s)")
    if report.get("note"):
        lines.append(f"  note         {report['note']}")
    return "\n".join(lines)
