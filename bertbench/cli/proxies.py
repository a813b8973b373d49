"""`bertbench proxies ...`: list, score, evaluate and correlate training-free proxies (registered on the main app
in ``cli.py``)."""

from __future__ import annotations

from pathlib import Path

import typer

from bertbench.cli.common import echo, load_bench
from bertbench.options import Direction, parse

proxies_app = typer.Typer(no_args_is_help=True, help="Training-free proxies: list, score, evaluate, correlate.")


@proxies_app.command("list")
def proxies_list(
    family: str | None = typer.Option(None, "--family", help="bert | rnn"),
    check: bool = typer.Option(True, "--check/--no-check",
                               help="Measure each proxy's float32 vs float64 gap on reference models (~15 s)."),
) -> None:
    """List the registered proxies with their direction, families and stability: the relative float32 vs float64 gap
    on a reference BERT model (every op type) and RNN; above the gate's tolerance a score is published as NaN.
    "self": the proxy is float64 inside and checks its own value (synflow: a second scaling of its backward pass).

    Example: bertbench proxies list --family rnn
    """
    from bertbench.families import family_names

    if family not in (None, *family_names()):
        raise typer.BadParameter(f"--family {family!r}; allowed: {', '.join(family_names())}")
    listing = _listing_cache(family, check)
    if listing.exists():  # the same proxies' sources and bertbench version: no torch import, no scoring
        echo(listing.read_text().rstrip("\n"))
        return
    from bertbench.proxies import STABILITY_TOL
    from bertbench.proxies.registry import get_proxy, list_proxies

    names = list_proxies(family)
    gaps: dict[str, dict[str, float]] = {}
    if check:
        from bertbench.proxies.stability import cached_precision_gaps

        for fam in family_names():
            if family in (None, fam):
                gaps[fam] = cached_precision_gaps(fam, [n for n in names if fam in get_proxy(n).families])
    lines = [f"{'proxy':<22} {'better':<7} {'families':<9} " + ("".join(f"{f + ' f32/f64':<13}" for f in gaps)) +
             f"description (gate: relative gap <= {STABILITY_TOL:g})"]
    for name in names:
        spec = get_proxy(name)
        cells = "".join(f"{'self' if f in spec.self_checked else _gap(gaps[f].get(name)):<13}"
                        for f in gaps)
        lines.append(f"{name:<22} {spec.direction:<7} {','.join(spec.families):<9} {cells}{_first_sentence(spec.doc)}")
    echo("\n".join(lines))
    try:
        from bertbench.file_io import atomic_write_bytes

        atomic_write_bytes(listing, ("\n".join(lines) + "\n").encode())
    except OSError:  # an unwritable cache only means computing again next time
        pass


def _listing_cache(family: str | None, check: bool) -> Path:
    """Where the printed listing is kept, keyed by the bertbench version and the proxies' source files (name, size,
    mtime), so a changed proxy is listed afresh."""
    import hashlib

    import bertbench
    from bertbench.env import cache_root

    folder = Path(bertbench.__file__).resolve().parent / "proxies"
    h = hashlib.sha256(f"{bertbench.__version__}|{family}|{check}".encode())
    for f in sorted(folder.glob("*.py")):
        st = f.stat()
        h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return cache_root("proxy-gaps") / f"listing-{h.hexdigest()[:24]}.txt"


def _first_sentence(doc: str) -> str:
    """The first sentence of a docstring's first paragraph (never cut mid-sentence)."""
    import re

    text = " ".join(doc.strip().split("\n\n")[0].split())
    end = re.search(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z(])", text)  # not after "et al." / "e.g." / "i.e."
    return text if end is None else text[:end.start() + 1]


def _gap(value: float | None) -> str:
    import math

    if value is None:
        return "-"
    if math.isnan(value):
        return "n/a"
    return f"{value:.0e}" if value > 0 else "0"


@proxies_app.command("score")
def proxies_score(
    source: str = typer.Argument(..., help="Benchmark: release folder, nas-bench-bert-2023, nas-bench-nlp, hf://..."),
    arch: str = typer.Option(..., "--arch", help="An id of the benchmark (arch_id, paper id, run_key)."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    proxies: str | None = typer.Option(None, "--proxies", help="Comma-separated names (default: all of the family)."),
    variant: str | None = typer.Option(None, "--variant", help="BERT: as_named | as_trained_2023."),
    seed: int = typer.Option(0, "--seed", help="Initialisation and batch seed."),
    ptb: Path | None = typer.Option(None, "--ptb", help="RNN: PTB text (ptb.zip or folder) for the input batch."),
) -> None:
    """Score proxies on one untrained architecture of a benchmark.

    Example: bertbench proxies score nas-bench-bert-2023 --path ../shared/data/seed-paper --arch 0 --variant as_named
    """
    from bertbench.families import get_family
    from bertbench.proxies import score
    from bertbench.proxies.inputs import default_batch
    from bertbench.proxies.registry import list_proxies

    bench = load_bench(source, path)
    names = proxies.split(",") if proxies else list_proxies(bench.family)
    a = bench.query(arch)["architecture"]
    fam = get_family(bench.family)
    batch = default_batch(fam.name, seed=seed, ptb=None if ptb is None else str(ptb))
    vocab = bench.metadata.get("vocab_size") or batch.vocab_size
    model = fam.build(a, variant or bench.default_variant, seed=seed, vocab_size=vocab)
    for name, r in score(model, batch, names, seed=seed).items():
        echo(f"{name:<22} {r['value']:>16.6g}  {r['seconds']:6.2f} s  {r['status']}{'  ' + r['error'] if r['error'] else ''}")


@proxies_app.command("score-run")
def proxies_score_run(
    run_dir: Path = typer.Argument(..., help="A run folder (bertbench regenerate --out)."),
    proxies: str | None = typer.Option(None, "--proxies", help="Comma-separated names (default: all of the family)."),
    corpus: str | None = typer.Option(None, "--corpus", help="Text the batch is drawn from, tokenized with the run's "
                                      "own vocabulary (e.g. PATH/ptb.zip::ptb/ptb.train.txt); default: synthetic."),
    batch_size: int = typer.Option(16, "--batch-size", min=1, help="Blocks in the batch."),
    seq_len: int = typer.Option(128, "--seq-len", min=8, help="Tokens per block."),
    seed: int = typer.Option(0, "--seed", help="Initialisation and batch seed."),
    processes: int = typer.Option(1, "--processes", min=1, help="Worker processes."),
    name: str | None = typer.Option(None, "--name", help="Result file name (default proxies-seed<seed>)."),
) -> None:
    """Score proxies on a run folder's untrained architectures into the run: `bertbench commit` then ships them as
    the release's proxies table.

    Example: bertbench proxies score-run runs/mini --corpus PATH/ptb.zip::ptb/ptb.train.txt --processes 2
    """
    from collections import Counter

    from bertbench.proxies.score_run import score_run

    path, table = score_run(run_dir, proxies.split(",") if proxies else None, seed=seed, batch_size=batch_size,
                            seq_len=seq_len, corpus=corpus, processes=processes, key=name)
    counts = Counter(table.column("status").to_pylist())
    echo(f"{len(set(table.column('arch_id').to_pylist()))} architectures x "
         f"{len(set(table.column('proxy').to_pylist()))} proxies: {dict(sorted(counts.items()))}; written to {path}")


@proxies_app.command("evaluate")
def proxies_evaluate(
    source: str = typer.Argument(..., help="Benchmark: release folder, nas-bench-bert-2023, nas-bench-nlp, hf://..."),
    path: Path | None = typer.Option(None, "--path", help="Data file/folder for the named benchmarks."),
    proxies: str | None = typer.Option(None, "--proxies", help="Comma-separated names (default: all of the family)."),
    n: int | None = typer.Option(None, "--n", min=1, help="Score a seeded sample of N architectures (default: all)."),
    seed: int = typer.Option(0, "--seed", help="Initialisation, batch and sample seed."),
    variant: str | None = typer.Option(None, "--variant", help="BERT: as_named | as_trained_2023."),
    target: str | None = typer.Option(None, "--target", help="Summary column to rank against (default: GLUE / "
                                                               "synthetic aggregate / test_loss)."),
    ptb: Path | None = typer.Option(None, "--ptb", help="RNN: PTB text (ptb.zip or folder) for the input batch."),
    dataset: str | None = typer.Option(None, "--dataset", help="nas-bench-nlp: ptb | wikitext-2."),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Sequences per input batch."),
    processes: int = typer.Option(1, "--processes", min=1, help="Worker processes."),
    out: Path = typer.Option(Path("proxy-eval"), "--out", help="Folder for proxies.parquet, correlations.csv, PNGs."),
) -> None:
    """Score proxies on a benchmark's architectures and correlate them with the trained results (+ plots).

    Example: bertbench proxies evaluate nas-bench-nlp --path logs.zip --ptb ptb.zip --proxies hidden_covariance
    """
    from bertbench.proxies.evaluate import evaluate

    bench = load_bench(source, path, dataset)
    names = proxies.split(",") if proxies else None
    _, corr = evaluate(bench, names, n=n, seed=seed, variant=variant, target=target, out=out, ptb=str(ptb) if ptb else None,
                       batch_size=batch_size, processes=processes)
    _print_corr(corr)
    echo(f"wrote {out}/proxies.parquet, correlations.csv, scores.csv, scatter.png, ranks.png")


@proxies_app.command("correlate")
def proxies_correlate(
    csv: Path = typer.Argument(..., help="A CSV with one row per architecture: proxy columns and a target column."),
    target: str = typer.Option(..., "--target", help="Target column, e.g. loss or 'GLUE Score'."),
    columns: str | None = typer.Option(None, "--columns", help="Comma-separated proxy columns (default: all numeric)."),
    n_boot: int = typer.Option(1000, "--n-boot", min=1, help="Bootstrap resamples for the 95% intervals."),
    target_direction: str = typer.Option("higher", "--target-direction", help="higher (accuracy) or lower (loss) is "
                                                                                "better; used by precision@top10%."),
    out: Path | None = typer.Option(None, "--out", help="Write the table as CSV."),
) -> None:
    """Correlation table of precomputed scores (e.g. the 2023 paper's CSVs) with a target.

    Example: bertbench proxies correlate ../shared/data/seed-paper/RNN_results.csv --target loss
    """
    import pandas as pd

    from bertbench.proxies.correlations import BASELINES, correlation_table, derived_from_target

    df = pd.read_csv(csv, encoding="utf-8-sig")
    if target not in df.columns:
        raise ValueError(f"--target {target!r} is not a column; columns: {list(df.columns)}")
    parse(Direction, target_direction, "--target-direction")
    if columns:
        cols = columns.split(",")
        unknown = [c for c in cols if c not in df.columns]
        if unknown:
            raise ValueError(f"--columns {unknown} are not columns; columns: {list(df.columns)}")
    else:
        cols = [c for c in df.select_dtypes("number").columns if c != target and c not in BASELINES]
        derived = derived_from_target(df, target, cols)
        if derived:
            echo(f"left out as functions of the target, not proxies: {', '.join(derived)}")
        cols = [c for c in cols if c not in derived]
    corr = correlation_table(df, target, cols, target_direction, n_boot=n_boot)
    echo(f"{len(df)} rows; signs oriented: a positive tau means the column's higher values go with the better "
         f"{target} ({target_direction} is better)")
    _print_corr(corr)
    if out:
        corr.to_csv(out, index=False)


def _print_corr(corr) -> None:
    from bertbench.proxies.correlations import format_table

    echo(format_table(corr))


@proxies_app.command("leaderboard")
def proxies_leaderboard(
    suite: str = typer.Argument("bertbench-zero", help="A proxy suite: a shipped name or a suite folder."),
    benchmark: str | None = typer.Option(None, "--benchmark", help="Comma-separated benchmark keys (default: all)."),
    n_boot: int = typer.Option(1000, "--n-boot", help="Bootstrap resamples per interval."),
    out: Path | None = typer.Option(None, "--out", help="Folder for leaderboard.csv and leaderboard.png."),
) -> None:
    """Every proxy of a precomputed suite beside the size baselines, per benchmark, with CIs and the target's
    reliability ceiling; a PNG with --out.

    Example: bertbench proxies leaderboard bertbench-zero --out leaderboard
    """
    import bertbench
    from bertbench.loaders.proxy_suite import ProxySuite
    from bertbench.loaders.registry import list_benchmarks
    from bertbench.proxies.leaderboard import format_leaderboard, leaderboard

    s = bertbench.load(suite)
    if not isinstance(s, ProxySuite):
        raise ValueError(f"suite={suite!r} is a benchmark, not a proxy suite; shipped suites: "
                         f"{[b.name for b in list_benchmarks() if 'proxy suite' in b.description]}")
    keys = benchmark.split(",") if benchmark else None
    for k in keys or []:
        s.benchmark(k)  # names the allowed keys
    table = leaderboard(s, keys, n_boot=n_boot)
    echo(f"{s.name} {s.version}: signs oriented (a positive tau ranks the better architectures higher); a proxy "
         "beats size only where its paired interval against the best size baseline lies above 0")
    echo(format_leaderboard(table, s))
    if out is not None:
        from bertbench.plots import plot_leaderboard

        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "leaderboard.csv", index=False)
        plot_leaderboard(table, out / "leaderboard.png", title=f"{s.name} {s.version}")
        echo(f"wrote {out / 'leaderboard.csv'} and {out / 'leaderboard.png'}")
