"""`bertbench search`: simulated NAS on a benchmark (registered on the main app in ``cli.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from bertbench.cli.common import echo, load_bench
from bertbench.options import Cost, parse


def search_cmd(
    source: str = typer.Argument(..., help="A release folder, nas-bench-bert-2023 or nas-bench-nlp."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    algorithms: str = typer.Option("random,evolution,local", "--algorithms",
                                   help="Comma-separated: random, evolution, local (proxy-guided ones via --proxy)."),
    proxy: list[str] = typer.Option([], "--proxy", help="A proxy of the proxies table, or params (repeatable): runs "
                                    "proxy and proxy-evolution with it."),
    metrics_csv: Path | None = typer.Option(None, "--metrics-csv", help="nas-bench-bert-2023: the paper's proxies CSV."),
    budget_frac: float = typer.Option(0.1, "--budget-frac", min=0.0001, max=1.0,
                                      help="Budget as a fraction of the benchmark's total training cost."),
    seeds: int = typer.Option(20, "--seeds", min=1, help="Searches per algorithm (seeds 0..N-1)."),
    metric: str | None = typer.Option(None, "--metric", help="Summary column to search for (default: the main one)."),
    cost: str = typer.Option("measured", "--cost", help="measured: each training costs its own time; flat: every "
                             "training costs the median (the cost-matched comparison: --proxy params then picks by "
                             "size without paying more for large units)."),
    out: Path = typer.Option(Path("search-out"), "--out", help="Folder for search.parquet and search.png."),
) -> None:
    """Simulated NAS on a benchmark: best-so-far and regret vs simulated training time (bertbench.search).

    Example: bertbench search nas-bench-bert-2023 --path data/ --proxy params --seeds 20 --out search-2023
    """
    import warnings

    import pandas as pd

    from bertbench import search

    parse(Cost, cost, "--cost")
    bench = load_bench(source, path)
    if metrics_csv is not None:
        import bertbench

        bench = bertbench.load(source, path=path, metrics_csv=metrics_csv)
    warning = bench.target_warning(metric or bench.default_target()[0])
    if warning:
        echo(warning)
    budget = budget_frac * float(bench.train_costs().sum())
    runs = [(a.strip(), None) for a in algorithms.split(",") if a.strip()]
    runs += [(a, p) for p in proxy for a in search.NEEDS_PROXY]
    for line in dict.fromkeys(x for a, _ in runs for x in search.budget_warnings(bench, a, budget)):
        echo(f"warning: {line}")
    select, judged = search.search_metrics(bench, metric)
    if select != judged:
        echo(f"searching on {select}, reporting {judged} (a search never sees the test metric)")
    with warnings.catch_warnings():  # the budget warnings were printed once above
        warnings.simplefilter("ignore", UserWarning)
        frame = pd.concat([search.run(bench, a, budget, range(seeds), metric=metric, proxy=p, cost=cost)
                           for a, p in runs], ignore_index=True)
        attrs = search.run(bench, runs[0][0], budget, [0], metric=metric, proxy=runs[0][1], cost=cost).attrs
    frame.attrs.update(attrs)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "search.parquet", index=False)
    search.plot(frame, out / "search.png", title=f"{bench.name}: {attrs['metric']}, budget {budget_frac:.0%}")
    table = search.final_regret(frame)
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        echo(f"{bench.name}: {attrs['metric']} ({attrs['direction']} is better), best {attrs['optimum']:.3f}; budget "
             f"{budget:,.0f} {attrs['cost_unit']} ({budget_frac:.0%}"
             f"{', every training charged the median cost' if cost == 'flat' else ''}); final regret over {seeds} seeds:")
        echo(table.to_string(index=False))
    echo(f"written: {out}/search.parquet, {out}/search.png")
