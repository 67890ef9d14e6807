"""Leave-one-architecture-out validation of edgekit's latency model on every condition with data.

For each (profile, threads, precision) with at least 3 architectures in its chosen published
table, every architecture is estimated by a fit that never saw it (its ``_ssld`` weights held out
with it; for scaled conditions the sd855 reference fit holds it out too) and compared with the
published figure. Beside it: latency ∝ FLOPs and FLOPs + memory (non-negative least squares on the
same rows, same folds). Prints Markdown for benchmarks/RESULTS.md and writes the
predicted-vs-published plot.

    .venv/bin/python benchmarks/latency_model.py [--plot benchmarks/plots/latency_predicted_vs_published.png]
"""

from __future__ import annotations

import argparse

from edgekit.estimate import data, fit
from edgekit.estimate.estimator import zoo_lookup


def validate() -> list[dict]:
    reference = data.build_dataset(*fit.REFERENCE_CONDITION)
    results = []
    for condition in data.conditions():
        dataset = data.build_dataset(*condition)
        if len(dataset.architectures) < data.MIN_ARCHITECTURES:
            continue
        model_cv = fit.cross_validate(dataset, reference, zoo_lookup)
        baselines = {name: fit.cross_validate(dataset, reference, zoo_lookup, fitter)
                     for name, fitter in fit.BASELINES.items()}
        kind = fit.fit_dataset(dataset, reference, zoo_lookup).describe()["kind"]
        results.append({"dataset": dataset, "kind": kind, "cv": model_cv, "baselines": baselines})
    return results


def _pct(value: float) -> str:
    return f"{value * 100:.1f}"


def markdown(results: list[dict]) -> str:
    lines = ["| profile | threads | precision | table fitted on | archs | model | within ±10% | median abs err % | "
             "worst % | FLOPs: within ±10% / median % | FLOPs+memory: within ±10% / median % |",
             "|---|---:|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        ds, cv, b = r["dataset"], r["cv"], r["baselines"]
        source = f"{ds.published_source[0]} {ds.published_source[1]}"
        lines.append(f"| {ds.profile} | {ds.threads} | {ds.precision} | {source} | {cv.count} | {r['kind']} | "
                     f"{_pct(cv.within_10pct)}% | {_pct(cv.median_abs)} | {_pct(cv.worst_abs)} | "
                     f"{_pct(b['flops'].within_10pct)}% / {_pct(b['flops'].median_abs)} | "
                     f"{_pct(b['flops+memory'].within_10pct)}% / {_pct(b['flops+memory'].median_abs)} |")
    return "\n".join(lines)


def sd855_detail(results: list[dict]) -> str:
    main = next(r for r in results if (r["dataset"].profile, r["dataset"].threads, r["dataset"].precision)
                == fit.REFERENCE_CONDITION)
    lines = ["| architecture | seed ms | held-out estimate ms | error % | FLOPs baseline error % |",
             "|---|---:|---:|---:|---:|"]
    for arch, (predicted, measured) in sorted(main["cv"].predictions.items()):
        flops = main["baselines"]["flops"].errors[arch]
        lines.append(f"| {arch} | {measured:.3f} | {predicted:.3f} | {main['cv'].errors[arch] * 100:+.1f} | "
                     f"{flops * 100:+.1f} |")
    return "\n".join(lines)


# A condition is drawn in its profile's colour with its (threads, precision) marker: 19 conditions
# got 10 default colours before, so sd625 fp32 and sd855 4 threads shared one.
CONDITION_MARKERS = {(1, "fp32"): "o", (1, "int8"): "s", (2, "fp32"): "^", (2, "int8"): "v",
                     (4, "fp32"): "D", (4, "int8"): "P"}


def condition_styles(conditions: list[tuple[str, int, str]]) -> dict[tuple[str, int, str], tuple[str, str]]:
    """(colour, marker) of each (profile, threads, precision): one colour per profile (tab10, then
    tab20's light shades), one marker per threads and precision, so no two conditions look alike."""
    import matplotlib

    profiles = sorted({p for p, _, _ in conditions})
    palette = [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    palette += [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab20"].colors[1::2]]
    if len(profiles) > len(palette):
        raise ValueError(f"{len(profiles)} profiles, {len(palette)} distinct colours")
    colour = dict(zip(profiles, palette))
    return {c: (colour[c[0]], CONDITION_MARKERS[c[1:]]) for c in conditions}


def figure(results: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = condition_styles([(r["dataset"].profile, r["dataset"].threads, r["dataset"].precision) for r in results])
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    for ax, baseline in zip(axes, (None, "flops")):
        for r in results:
            cv = r["cv"] if baseline is None else r["baselines"][baseline]
            points = list(cv.predictions.values())
            ds = r["dataset"]
            colour, marker = styles[(ds.profile, ds.threads, ds.precision)]
            ax.scatter([m for _, m in points], [p for p, _ in points], s=16, color=colour, marker=marker,
                       edgecolors="black", linewidths=0.3, label=f"{ds.profile} {ds.threads}t {ds.precision}")
        ax.plot([1, 1000], [1, 1000], color="black", linewidth=0.8)
        ax.plot([1, 1000], [1.1, 1100], color="grey", linewidth=0.6, linestyle="--")
        ax.plot([1, 1000], [0.9, 900], color="grey", linewidth=0.6, linestyle="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(1, 200)
        ax.set_ylim(1, 200)
        ax.set_xlabel("published latency (ms)")
        ax.set_ylabel("held-out estimate (ms)")
        ax.set_title("edgekit latency model" if baseline is None else "baseline: latency ∝ FLOPs")
        ax.grid(alpha=0.3, which="both")
    # beside the panels, not over their points
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="center left", bbox_to_anchor=(0.9, 0.5),
               title="condition (colour: SoC;\nmarker: threads, precision)", title_fontsize=7)
    fig.subplots_adjust(right=0.88)
    fig.suptitle("Leave-one-architecture-out: every point estimated by a fit that never saw it (dashed: ±10%)")
    return fig


def plot(results: list[dict], path: str) -> None:
    import matplotlib.pyplot as plt

    fig = figure(results)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default=None, help="PNG of held-out estimates against published figures")
    args = parser.parse_args()
    results = validate()
    print(markdown(results))
    print()
    print(sd855_detail(results))
    reference = next(r for r in results if (r["dataset"].profile, r["dataset"].threads, r["dataset"].precision)
                     == fit.REFERENCE_CONDITION)
    print()
    print(f"sd855 1 thread fp32 (the seed): {sum(abs(e) <= 0.10 for e in reference['cv'].errors.values())} of "
          f"{reference['cv'].count} architectures within ±10% held out")
    excluded = data.excluded_rows()
    for row in excluded:
        print(f"excluded: {row['file']}: {row['published_name']} {row['profile']} {row['threads']} thread(s) "
              f"{row['latency_ms']} ms: {row['exclude']}")
    if args.plot:
        plot(results, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
