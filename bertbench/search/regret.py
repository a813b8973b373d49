"""What a search found: final regret per algorithm, regret curves over simulated time, and their plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def final_regret(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (algorithm, proxy): mean and std over seeds of the regret when the budget ran out."""
    last = frame.groupby(["algorithm", "proxy", "seed"])["regret"].last().reset_index()
    return last.groupby(["algorithm", "proxy"])["regret"].agg(["mean", "std", "count"]).reset_index()


def regret_curves(frame: pd.DataFrame, points: int = 200) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per (algorithm, proxy) label: (time grid, mean regret, sd over seeds) of the incumbent, on complete traces
    only: from the time every seed has trained a unit with a finite value to the budget. Where the search selects on
    the metric it reports, each seed's regret never rises, so neither does the mean; where it selects on a
    validation metric or on drawn seeds, the incumbent's reported value can get worse, and the curve shows it."""
    budget = float(frame.attrs.get("budget", frame["time"].max()))
    out = {}
    for (alg, proxy), part in frame.groupby(["algorithm", "proxy"]):
        done = part.dropna(subset=["regret"])
        firsts = done.groupby("seed")["time"].min()
        if firsts.empty or len(firsts) < part["seed"].nunique():
            continue  # a seed that never found a finite unit has no curve
        grid = np.linspace(float(firsts.max()), budget, points)
        curves = []
        for _, f in done.groupby("seed"):
            idx = np.searchsorted(f["time"].to_numpy(), grid, side="right") - 1
            curves.append(f["regret"].to_numpy()[idx])
        c = np.vstack(curves)
        out[f"{alg} ({proxy})" if proxy else alg] = (grid, c.mean(axis=0), c.std(axis=0))
    return out


def plot(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """``regret_curves`` drawn: one line per (algorithm, proxy), a band of one sd over seeds."""
    from bertbench.plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    n_seeds = frame["seed"].nunique()
    for label, (grid, mean, std) in regret_curves(frame).items():
        ax.plot(grid, mean, label=label)
        ax.fill_between(grid, np.maximum(mean - std, 0), mean + std, alpha=0.15)
    metric, sel = frame.attrs.get("metric", ""), frame.attrs.get("selected_on", "")
    ax.set_xlabel(f"simulated time ({frame.attrs.get('cost_unit', 'cost')})")
    ax.set_ylabel(f"regret of the incumbent's {metric}" + (f"\n(selected on {sel})" if sel and sel != metric else ""))
    ax.set_title(f"{title}\nmean over {n_seeds} seeds from the time all have a result; band: +-1 sd over seeds",
                 fontsize=9)
    ax.legend(fontsize=8)
    return save_figure(fig, path)
