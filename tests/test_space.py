import json
import random

import pytest

from bertbench.errors import InvalidArchitecture, InvalidSearchSpace
from bertbench.space import Architecture, LayerSpec, SearchSpace, paper_2023_grid


@pytest.fixture(scope="module")
def space() -> SearchSpace:
    return SearchSpace.named("nas-bench-bert-2023")


def test_size_is_computed_from_definition(space):
    assert space.size() == 2 * (48**2 + 48**4) == 10_621_440
    assert len(space.layer_choices()) == 48


def test_paper_grid_matches_published_500(shared_data):
    entries = json.loads((shared_data / "seed-paper" / "BERT_benchmark.json").read_text())
    grid = paper_2023_grid()
    assert len(grid) == 500
    assert [e["id"] for e in entries] == list(range(500))
    assert all(Architecture.from_dict(e) == a for e, a in zip(entries, grid))
    assert len({a.arch_id for a in grid}) == 491  # 9 duplicated pairs (spec §1.2)
    assert grid[194] == grid[438] and grid[259] == grid[487]


def test_paper_grid_leaves_global_random_state_alone():
    random.seed(123)
    expected = random.random()
    random.seed(123)
    paper_2023_grid()
    assert random.random() == expected


def test_group_counts(space):
    grid = space.paper_2023_grid()
    counts = {}
    for a in grid:
        counts[(a.hidden_size, a.num_layers)] = counts.get((a.hidden_size, a.num_layers), 0) + 1
    assert counts == {(128, 2): 123, (128, 4): 128, (256, 2): 116, (256, 4): 133}


def test_pinned_arch_ids(space):
    grid = space.paper_2023_grid()
    # Pinned: arch_id must never change (first 16 hex of sha256 of the canonical JSON).
    assert grid[0].arch_id == "9d60c38259d9eded"
    simple = Architecture(128, (LayerSpec("SA", "SDP", 2, 512, 1), LayerSpec("DSC", 9, 4, 1024, 3)))
    assert simple.to_json() == (
        '{"hidden_size":128,"layers":[{"ffn_dim":512,"heads":2,"num_ffn":1,"op_param":"SDP","op_type":"SA"},'
        '{"ffn_dim":1024,"heads":4,"num_ffn":3,"op_param":9,"op_type":"DSC"}]}'
    )
    import hashlib

    assert simple.arch_id == hashlib.sha256(simple.to_json().encode()).hexdigest()[:16]
    assert simple.arch_id == "64f93244669f43ca"


def test_both_layouts_parse_to_same_object():
    ours = {"hidden_size": 256, "layers": [{"op_type": "LT", "op_param": "DFT", "heads": 2, "ffn_dim": 512, "num_ffn": 3}]}
    theirs = {
        "hidden_size": 256,
        "nas_config": {
            "encoder_layers": [
                {
                    "operation_type": "LT",
                    "operation_parameter": "DFT",
                    "num_operation_heads": 2,
                    "feed_forward_dimension": 512,
                    "num_feed_forward": 3,
                }
            ]
        },
    }
    a, b = Architecture.from_dict(ours), Architecture.from_dict(theirs)
    assert a == b and a.arch_id == b.arch_id
    assert Architecture.from_dict(a.to_2023_dict()) == a
    assert Architecture.from_json(a.to_json()) == a


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"hidden_size": 250, "layers": [{"op_type": "SA", "op_param": "SDP", "heads": 4, "ffn_dim": 512, "num_ffn": 1}]},
         "heads=4 does not divide hidden_size=250"),
        ({"hidden_size": 256, "layers": [{"op_type": "XX", "op_param": "SDP", "heads": 4, "ffn_dim": 512, "num_ffn": 1}]},
         "op_type='XX' is not a known op type; allowed: {'SA', 'LT', 'DSC'}"),
        ({"hidden_size": 256, "layers": [{"op_type": "LT", "op_param": "SDP", "heads": 4, "ffn_dim": 512, "num_ffn": 1}]},
         "op_param='SDP' is not valid for op_type='LT'; allowed: {'DFT', 'DCT'}"),
        ({"hidden_size": 256, "layers": [{"op_type": "DSC", "op_param": 7, "heads": 4, "ffn_dim": 512, "num_ffn": 1}]},
         "allowed: {5, 9}"),
        ({"hidden_size": 256, "layers": []}, "layers is empty"),
        ({"hidden_size": 256, "layers": [{"op_type": "SA", "op_param": "SDP", "heads": 0, "ffn_dim": 512, "num_ffn": 1}]},
         "heads=0 must be a positive integer"),
        ({"hidden_size": 256, "layers": [{"op_type": "SA", "op_param": "SDP", "heads": 2}]}, "missing field"),
        ({"layers": []}, "missing field 'hidden_size'"),
    ],
)
def test_invalid_specs_raise_named_errors(spec, message):
    with pytest.raises(InvalidArchitecture) as err:
        Architecture.from_dict(spec)
    assert message in str(err.value)


def test_space_membership_errors(space):
    arch = Architecture(64, (LayerSpec("SA", "SDP", 2, 512, 1),))
    with pytest.raises(InvalidArchitecture, match=r"hidden_size=64 not in space .*allowed: \{128, 256\}"):
        space.validate(arch)
    arch = Architecture(128, (LayerSpec("SA", "SDP", 2, 512, 1),) * 3)
    assert arch not in space
    with pytest.raises(InvalidArchitecture, match=r"num_layers=3 .*allowed: \{2, 4\}"):
        space.validate(arch)
    arch = Architecture(128, (LayerSpec("SA", "SDP", 8, 512, 1),) * 2)
    with pytest.raises(InvalidArchitecture, match=r"layers\[0\]\.heads=8 .*allowed: \{2, 4\}"):
        space.validate(arch)


def test_bad_space_yaml():
    with pytest.raises(InvalidSearchSpace, match="unknown op type 'FOO'"):
        SearchSpace.from_dict({"name": "x", "hidden_size": [128], "num_layers": [1],
                               "layer": {"op_type": {"FOO": [1]}, "heads": [2], "ffn_dim": [8], "num_ffn": [1]}})
    with pytest.raises(InvalidSearchSpace, match="hidden_size 100 is not divisible by heads 3"):
        SearchSpace.from_dict({"name": "x", "hidden_size": [100], "num_layers": [1],
                               "layer": {"op_type": {"SA": ["SDP"]}, "heads": [3], "ffn_dim": [8], "num_ffn": [1]}})
    with pytest.raises(InvalidSearchSpace, match=r"search space 'nope' not found; known spaces: \['nas-bench-bert-2023'\]"):
        SearchSpace.named("nope")


def test_sample_and_enumerate(space):
    a = space.sample(20, seed=3)
    assert a == space.sample(20, seed=3) and a != space.sample(20, seed=4)
    assert all(x in space for x in a)
    assert len({x.arch_id for x in space.sample(50, seed=1, unique=True)}) == 50
    small = SearchSpace.from_dict({"name": "s", "hidden_size": [128, 256], "num_layers": [1, 2],
                                   "layer": {"op_type": {"SA": ["SDP", "WMA"], "DSC": [5]}, "heads": [2],
                                             "ffn_dim": [64], "num_ffn": [1]}})
    all_archs = list(small.enumerate())
    assert len(all_archs) == small.size() == 2 * (3 + 9)
    assert len({x.arch_id for x in all_archs}) == small.size()
    first = next(iter(space.enumerate()))  # lazy: the big space yields at once
    assert first in space


def test_model_families_are_one_registry():
    """Each family answers what loaders, proxies and the CLI used to branch on; unknown names list the known ones."""
    import dataclasses

    from bertbench.families import FAMILIES, get_family, register_family
    from bertbench.space import Architecture, LayerSpec
    from bertbench.space.cost import count_params
    from bertbench.space.rnn import RnnArchitecture

    assert list(FAMILIES) == ["bert", "rnn"]
    with pytest.raises(ValueError, match=r"model family 'cnn' is not known; allowed: \['bert', 'rnn'\]"):
        get_family("cnn")
    with pytest.raises(KeyError, match="registered twice"):
        register_family(dataclasses.replace(get_family("bert")))
    bert = get_family("bert")
    arch = Architecture(128, (LayerSpec("SA", "SDP", 2, 512, 1), LayerSpec("DSC", 5, 2, 512, 1)))
    row = {"arch_json": arch.to_json()}
    assert bert.arch_from_row(row) == arch
    model = bert.build(arch, seed=0, vocab_size=1000)
    assert sum(p.numel() for p in model.parameters()) == count_params(arch, vocab_size=1000)
    with pytest.raises(ValueError, match=r"variant='rnn' is not known for the bert family; allowed: \['as_named'"):
        bert.build(arch, "rnn")
    rnn = get_family("rnn")
    recipe = {"h_new_0": {"op": "linear", "input": ["x", "h_prev_0"]}}
    cell = rnn.arch_from_row({"recipe_json": __import__("json").dumps(recipe)})
    assert isinstance(cell, RnnArchitecture)
    lm = rnn.build(cell, seed=0, vocab_size=50, emsize=8, nhid=8)
    assert lm.encoder.num_embeddings == 50  # vocab_size reaches the LM as ntoken
    assert rnn.encode(cell, "features", 4).tolist()[0] == 1.0  # one node
    assert (bert.target, rnn.target) == (None, ("test_loss", "lower"))
