"""The one report format of the benchmarks: rates, and cost relative to the run's baseline."""

from __future__ import annotations


def report(results: dict[str, float], unit: str) -> str:
    """`results` maps case -> rate, the baseline first; cost = baseline rate / case rate."""
    baseline = next(iter(results.values()))
    width = max(len(case) for case in results) + 2
    lines = [f"{'case':<{width}} {unit:>10} {'cost vs baseline':>17}"]
    for case, rate in results.items():
        lines.append(f"{case:<{width}} {rate:>10.0f} {baseline / rate:>16.2f}x")
    return "\n".join(lines)
