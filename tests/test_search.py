"""NAS on benchmarks: the query layer (costs, constraints, encodings, moves) and search on a simulated clock."""

import math

import numpy as np
import pandas as pd
import pytest

import bertbench
from bertbench.search import final_regret, run
from bertbench.testing import synthetic_benchmark


@pytest.fixture(scope="module")
def synth():
    return synthetic_benchmark(600, seed=0)


@pytest.fixture(scope="module")
def paper(shared_data):
    return bertbench.load("nas-bench-bert-2023", path=shared_data / "seed-paper",
                          metrics_csv=shared_data / "seed-paper" / "BERT_results_activation.csv")


def test_search_is_deterministic_per_seed_and_the_clock_adds_exactly_the_costs(synth):
    budget = 0.1 * synth.train_costs().sum()
    for alg, proxy in [("random", None), ("evolution", None), ("local", None), ("proxy", "params")]:
        a = run(synth, alg, budget, [3, 4], proxy=proxy)
        pd.testing.assert_frame_equal(a, run(synth, alg, budget, [3, 4], proxy=proxy))
        for _, f in a.groupby("seed"):
            assert f["unit"].is_unique  # a unit is paid once
            costs = synth.train_costs()[f["unit"]].to_numpy()
            assert np.allclose(f["time"].to_numpy(), np.cumsum(costs))  # params costs nothing to score
            assert f["time"].iloc[-1] <= budget
        assert (a["regret"] >= 0).all() and a.groupby("seed")["regret"].apply(lambda r: r.is_monotonic_decreasing).all()
    assert not run(synth, "random", budget, [1]).equals(run(synth, "random", budget, [2]))


def test_regularized_evolution_beats_random_search_on_a_smooth_benchmark(synth):
    """The metric is a linear function of the one-hot encoding, so mutation finds better neighbours: over 20 seeds
    evolution must end with a lower mean regret than random search."""
    budget = 0.1 * synth.train_costs().sum()
    ev = final_regret(run(synth, "evolution", budget, range(20)))["mean"].iloc[0]
    rs = final_regret(run(synth, "random", budget, range(20)))["mean"].iloc[0]
    assert ev < rs, (ev, rs)


def test_moves_stay_in_the_space_and_in_the_benchmark(paper):
    space = paper.search_space()
    units = set(paper.to_pandas()["paper_id"].astype(str))
    rng = np.random.default_rng(0)
    for uid in ["0", "47", "321"]:
        for _ in range(5):
            assert paper.mutate(uid, rng) in units
        arch = paper.query(uid)["architecture"]
        base = paper.encode(arch)
        for n in paper.space_neighbours(arch):
            assert n.hidden_size in space.hidden_sizes and len(n.layers) == len(arch.layers)
            for ly in n.layers:
                assert ly.heads in space.heads and ly.ffn_dim in space.ffn_dims and ly.num_ffn in space.num_ffns
                assert (ly.op_type, ly.op_param) in [(t, p) for t, ps in space.op_params for p in ps]
            assert np.abs(paper.encode(n) - base).sum() == 2  # exactly one choice changed
    lengths = {paper.encode(u).shape for u in ["0", "1", "2", "47"]} | {paper.encode(u, "features").shape for u in ["0", "1"]}
    assert len(lengths) == 2
    with pytest.raises(ValueError, match="kind='graph' is not known for the bert family; allowed"):
        paper.encode("0", "graph")


def test_find_best_equals_a_pandas_brute_force(paper):
    s = paper.to_pandas()
    for kwargs in [{}, {"max_params": 5e6}, {"max_flops": 4e8, "hidden_size": 256}]:
        best = paper.find_best("glue_2023", **kwargs)
        sub = s.copy()
        if "max_params" in kwargs:
            sub = sub[sub["params"].astype(float) <= kwargs["max_params"]]
        if "max_flops" in kwargs:
            sub = sub[(sub["flops"].astype(float) <= kwargs["max_flops"]) & (sub["hidden_size"] == 256)]
        expected = sub.loc[sub["glue_2023"].astype(float).idxmax()]
        assert best["paper_id"] == expected["paper_id"] and best["glue_2023"] == pytest.approx(float(expected["glue_2023"]))
    with pytest.raises(ValueError, match="no unit"):
        paper.find_best("glue_2023", max_params=10)


def test_costs_queries_and_proxy_guided_search_on_the_2023_data(paper, shared_data):
    assert paper.cost_unit == "tpu-v2-8 seconds"
    assert paper.train_cost(0) == pytest.approx(paper.query(0)["runs"][0]["wall_seconds"])
    one = paper.query_seed(47, seed=0)
    assert math.isnan(one["rte"]) and one["sst2"] == pytest.approx(float(paper.query(47)["metrics"]["sst2"]))
    drawn, mean = paper.query_seed(5, seed="random", rng=np.random.default_rng(1)), paper.query_seed(5)
    assert set(drawn) == set(mean) and all(drawn[k] == mean[k] or math.isnan(mean[k]) for k in mean)  # one seed
    budget = 0.1 * paper.train_costs().sum()
    f = run(paper, "proxy", budget, range(3), proxy="Jacobian Score")
    assert set(f["proxy"]) == {"Jacobian Score"} and f.attrs["metric"] == "glue_2023"
    with pytest.raises(KeyError, match="proxy 'nope' has no scores"):
        run(paper, "proxy", budget, [0], proxy="nope")
    with pytest.raises(ValueError, match="algorithm='random' takes no proxy="):
        run(paper, "random", budget, [0], proxy="params")
    wt2 = bertbench.load("nas-bench-nlp", path=shared_data / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")
    assert wt2.cost_unit == "gpu seconds" and wt2.encode(wt2.to_pandas()["run_key"][0], "adjacency").ndim == 1
    g = run(wt2, "evolution", 0.1 * wt2.train_costs().sum(), range(2))
    assert g.attrs["metric"] == "test_loss" and g.attrs["direction"] == "lower" and (g["regret"] >= 0).all()


@pytest.fixture(scope="module")
def nlp(shared_data):
    return bertbench.load("nas-bench-nlp", path=shared_data / "nas-bench-nlp" / "train_logs_wikitext-2" / "logs.zip")


def test_search_selects_on_validation_and_reports_test(nlp):
    """NAS-Bench-NLP has val_loss and test_loss: asked for test_loss, a search chooses exactly as a search on
    val_loss does (it never sees the test metric), and reports the test loss of its validation incumbent."""
    from bertbench.search import search_metrics

    assert search_metrics(nlp, "test_loss") == ("val_loss", "test_loss")
    budget = 0.2 * nlp.train_costs().sum()
    on_test = run(nlp, "evolution", budget, [0, 1], metric="test_loss")
    on_val = run(nlp, "evolution", budget, [0, 1], metric="val_loss")
    assert on_test.attrs["selected_on"] == "val_loss"
    assert on_test["unit"].tolist() == on_val["unit"].tolist()
    s = nlp.to_pandas().set_index(nlp.id_column)
    s.index = s.index.astype(str)
    for _, f in on_test.groupby("seed"):
        seen = {}
        for row in f.itertuples():
            seen[row.unit] = s.loc[row.unit, "val_loss"]
            best = min((v, u) for u, v in seen.items() if v == v)[1]
            assert row.incumbent == best
            assert row.reported == pytest.approx(s.loc[best, "test_loss"])


def test_search_curves_are_complete_and_never_rise(paper, tmp_path):
    """Regret curves start when every seed has a result; where the search selects on what it reports they never
    rise; the plot is written."""
    from bertbench.search import plot, regret_curves

    budget = 0.1 * paper.train_costs().sum()
    frame = pd.concat([run(paper, a, budget, range(5)) for a in ("random", "evolution")], ignore_index=True)
    frame.attrs.update(run(paper, "random", budget, [0]).attrs)
    curves = regret_curves(frame)
    assert set(curves) == {"random", "evolution"}
    for grid, mean, _ in curves.values():
        assert np.isfinite(mean).all() and (np.diff(mean) <= 1e-12).all()
        first = frame.dropna(subset=["regret"]).groupby(["algorithm", "seed"])["time"].min().max()
        assert grid[0] <= first
    assert plot(frame, tmp_path / "search.png").stat().st_size > 1000


def test_budget_warnings_fire_when_the_budget_buys_too_little():
    """The mini release at 10 % of its cost buys about 3 trainings: both warnings fire (evolution never fills its
    population of 20); a budget of the whole benchmark warns of nothing for random search. On a release with seeds a
    training observes one seed's value, and regret is measured on the mean over seeds."""
    from bertbench.search import budget_warnings

    mini = bertbench.load("bertbench-mini-ptb-glue")
    lines = budget_warnings(mini, "evolution", 0.1 * mini.train_costs().sum())
    assert any("buys about 3 trainings" in x for x in lines) and any("population of 20" in x for x in lines)
    assert budget_warnings(mini, "random", mini.train_costs().sum()) == []
    with pytest.warns(UserWarning, match="fewer than its population"):
        frame = run(mini, "evolution", 0.1 * mini.train_costs().sum(), [0, 1])
    assert frame.attrs["seed_draws"]
    summary = mini.to_pandas().set_index("arch_id")
    target = frame.attrs["metric"]
    for row in frame.itertuples():
        assert row.reported == pytest.approx(float(summary.loc[row.incumbent, target]))


def test_simulated_clock_and_proxy_names_across_sources(paper):
    """NATS-Bench's clock: every simulated training pays the unit's cost, used_time adds them up, reset_time sets it
    back to 0. A proxy asked for by its registry name finds the 2023 CSV's column of that name."""
    paper.reset_time()
    value, cost, total = paper.simulate_train_eval(47, "glue_2023", seed=None)
    assert cost == paper.train_cost(47) and total == cost and math.isnan(value)  # 47's RTE failed: no aggregate
    value, cost2, total = paper.simulate_train_eval(0, "sst2", seed="random", rng=np.random.default_rng(0))
    assert value == pytest.approx(paper.query_seed(0)["sst2"]) and total == pytest.approx(cost + cost2)
    assert paper.used_time == pytest.approx(cost + cost2)
    with pytest.raises(KeyError, match="metric 'glue_x' is not a stage or summary column"):
        paper.simulate_train_eval(0, "glue_x")
    paper.reset_time()
    assert paper.used_time == 0.0
    budget = 0.05 * paper.train_costs().sum()
    by_registry_name = run(paper, "proxy", budget, [0], proxy="synaptic_diversity")
    by_csv_name = run(paper, "proxy", budget, [0], proxy="Synaptic Diversity")
    assert by_registry_name["unit"].tolist() == by_csv_name["unit"].tolist()


def test_flat_costs_give_every_algorithm_the_same_number_of_trainings(synth):
    """The cost-matched params baseline: with cost="flat" each training costs the median, so the params-guided
    search (which picks the largest, dearest units) buys as many trainings as random search; with measured costs it
    buys fewer than random search does."""
    budget = 0.1 * synth.train_costs().sum()
    median = float(np.median(synth.train_costs()))
    counts = {}
    for cost in ("measured", "flat"):
        for alg, proxy in [("random", None), ("proxy", "params")]:
            f = run(synth, alg, budget, range(4), proxy=proxy, cost=cost)
            assert f.attrs["cost"] == cost
            counts[cost, alg] = f.groupby("seed").size().mean()
            if cost == "flat":
                assert np.allclose(f.groupby("seed")["time"].diff().dropna(), median)
    assert counts["flat", "random"] == counts["flat", "proxy"] == int(budget // median)
    assert counts["measured", "proxy"] < counts["measured", "random"]
    with pytest.raises(ValueError, match="cost='free' is not known; allowed: 'measured', 'flat'"):
        run(synth, "random", budget, [0], cost="free")
