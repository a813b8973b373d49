"""The models compute what each op's name says; the SDP path is a real ELECTRA layer."""

import itertools

import pytest
import torch

from bertbench.errors import InvalidArchitecture
from bertbench.models import BertBenchConfig, build_model
from bertbench.space import Architecture, LayerSpec

OPS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]
V, E, P, T = 1000, 128, 512, 2


def n_params(arch: Architecture, variant: str = "as_named") -> int:
    """Closed-form parameter count of BertBenchModel (see models/modeling.py)."""
    h = arch.hidden_size
    total = V * E + P * E + T * E + 2 * E + (E * h + h if E != h else 0)
    for ly in arch.layers:
        op, param, n = ly.op_type, ly.op_param, ly.heads
        if variant == "as_trained_2023":
            op, param = "SA", "SDP"
        if op == "SA":
            mixer = 3 * (h * h + h) + (h * h if param == "WMA" else 0)
        elif op == "LT":
            mixer = 0
        else:
            k = param  # DSC: attention q, k, v; conv heads: pointwise key conv + values, depthwise, dynamic kernel
            mixer = 5 * (h * h + h) + h * k + (h * n * k + n * k)
        width = 2 * h if op == "DSC" else h  # DSC concatenates attention and conv heads
        mixer += width * h + h + 2 * h  # output projection + LayerNorm
        widths = [ly.ffn_dim] * ly.num_ffn if variant == "as_named" else [4 * h] + [ly.ffn_dim] * (ly.num_ffn - 1)
        dims = [h, *widths]
        ffn = sum(a * b + b for a, b in zip(dims[:-1], dims[1:])) + dims[-1] * h + h + 2 * h
        total += mixer + ffn
    return total


def batch(b=3, length=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (b, length), generator=g)
    mask = torch.ones(b, length, dtype=torch.long)
    mask[1, length - 4:] = 0
    ids[1, length - 4:] = 0
    return ids, mask


@pytest.mark.parametrize("variant", ["as_named", "as_trained_2023"])
@pytest.mark.parametrize("op", OPS)
def test_parameter_counts_closed_form(op, variant):
    for h, heads, ffn, k in [(128, 2, 512, 1), (256, 4, 1024, 3)]:
        arch = Architecture(h, (LayerSpec(op[0], op[1], heads, ffn, k), LayerSpec("SA", "SDP", 2, 512, 3)))
        model = build_model(arch, variant=variant, vocab_size=V)
        assert sum(p.numel() for p in model.parameters()) == n_params(arch, variant)


def test_every_op_is_a_different_computation():
    ids, mask = batch()
    outs = {}
    for op in OPS:
        arch = Architecture(128, (LayerSpec(op[0], op[1], 4, 256, 1),))
        model = build_model(arch, seed=0, vocab_size=V).eval()
        with torch.no_grad():
            outs[op] = model(ids, mask).last_hidden_state
        assert torch.isfinite(outs[op]).all()
    for a, b in itertools.combinations(OPS, 2):
        assert (outs[a] - outs[b]).abs().max() > 1e-3, (a, b)
    # heads change the computation for every op too
    for op in OPS:
        y = []
        for heads in (2, 4):
            arch = Architecture(128, (LayerSpec(op[0], op[1], heads, 256, 1),))
            with torch.no_grad():
                y.append(build_model(arch, seed=0, vocab_size=V).eval()(ids, mask).last_hidden_state)
        assert (y[0] - y[1]).abs().max() > 1e-4, op


@pytest.mark.parametrize("op", OPS)
def test_padding_does_not_change_real_positions(op):
    arch = Architecture(128, (LayerSpec(op[0], op[1], 2, 256, 1), LayerSpec(op[0], op[1], 4, 256, 3)))
    model = build_model(arch, seed=0, vocab_size=V).eval()
    ids, mask = batch(b=2, length=16)
    ids[1, 12:] = 7  # pad content must not leak
    with torch.no_grad():
        padded = model(ids, mask).last_hidden_state[1, :12]
        alone = model(ids[1:, :12]).last_hidden_state[0]
        ids2 = ids.clone()
        ids2[1, 12:] = 99
        other_pad = model(ids2, mask).last_hidden_state[1, :12]
    assert torch.allclose(padded, other_pad, atol=1e-6)  # pad content never leaks, for every op
    if op[0] in ("SA", "DSC"):
        assert torch.allclose(padded, alone, atol=1e-5)
    else:  # documented: LT transforms depend on the padded length
        assert not torch.allclose(padded, alone, atol=1e-3)


def test_sdp_path_is_a_real_electra_layer():
    from transformers import ElectraConfig, ElectraModel

    h, n, f, layers = 256, 4, 1024, 3
    arch = Architecture(h, tuple(LayerSpec("SA", "SDP", n, f, 1) for _ in range(layers)))
    ours = build_model(arch, seed=0, vocab_size=V).eval()
    cfg = ElectraConfig(vocab_size=V, embedding_size=E, hidden_size=h, num_hidden_layers=layers, num_attention_heads=n,
                        intermediate_size=f, hidden_act="gelu", layer_norm_eps=1e-12)
    ref = ElectraModel(cfg).eval()
    mapping = {
        "embeddings.word_embeddings": "embeddings.word_embeddings",
        "embeddings.position_embeddings": "embeddings.position_embeddings",
        "embeddings.token_type_embeddings": "embeddings.token_type_embeddings",
        "embeddings.LayerNorm": "embeddings.LayerNorm",
        "embeddings_project": "embeddings_project",
    }
    for i in range(layers):
        a, b = f"encoder.layer.{i}.", f"encoder.layer.{i}."
        mapping.update({
            a + "mixer.query": b + "attention.self.query",
            a + "mixer.key": b + "attention.self.key",
            a + "mixer.value": b + "attention.self.value",
            a + "mixer_output": b + "attention.output.dense",
            a + "mixer_LayerNorm": b + "attention.output.LayerNorm",
            a + "ffn.dense.0": b + "intermediate.dense",
            a + "ffn.output": b + "output.dense",
            a + "ffn.LayerNorm": b + "output.LayerNorm",
        })
    ours_sd = ours.state_dict()
    ref_sd = {}
    for ours_prefix, ref_prefix in mapping.items():
        for suffix in ("weight", "bias"):
            if f"{ours_prefix}.{suffix}" in ours_sd:
                ref_sd[f"{ref_prefix}.{suffix}"] = ours_sd[f"{ours_prefix}.{suffix}"]
    missing, unexpected = ref.load_state_dict(ref_sd, strict=False)
    assert not unexpected and all("position_ids" in m or "token_type_ids" in m for m in missing)
    assert len(ref_sd) == len(ours_sd)  # every one of our parameters was used
    ids, mask = batch(b=4, length=20)
    tt = torch.zeros_like(ids)
    tt[:, 10:] = 1
    with torch.no_grad():
        y_ours = ours(ids, mask, tt).last_hidden_state
        y_ref = ref(input_ids=ids, attention_mask=mask, token_type_ids=tt).last_hidden_state
    real = mask.bool()
    assert torch.allclose(y_ours[real], y_ref[real], atol=1e-5)


@pytest.mark.parametrize("head", ["base", "mlm", "electra", "classification"])
def test_gradients_reach_every_parameter(head):
    layers = tuple(LayerSpec(t, p, 2, 64, 2) for t, p in OPS)
    arch = Architecture(128, layers)
    model = build_model(arch, head=head, seed=0, vocab_size=V, num_labels=3)
    ids, mask = batch()
    if head == "base":
        loss = model(ids, mask).last_hidden_state.pow(2).mean()
    elif head == "classification":
        loss = model(ids, mask, labels=torch.tensor([0, 1, 2])).loss
    else:
        labels = torch.full_like(ids, -100)
        labels[:, 2::3] = ids[:, 2::3]
        masked = ids.masked_fill(labels != -100, 4)
        torch.manual_seed(0)
        loss = model(masked, labels=labels, attention_mask=mask).loss
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not no_grad


def test_save_load_round_trip(tmp_path):
    from transformers import AutoModel, AutoModelForPreTraining, AutoModelForSequenceClassification

    arch = Architecture(256, tuple(LayerSpec(t, p, 4, 128, 1) for t, p in OPS))
    ids, mask = batch()
    for auto, head in [(AutoModel, "base"), (AutoModelForSequenceClassification, "classification"),
                       (AutoModelForPreTraining, "electra")]:
        model = build_model(arch, head=head, seed=1, vocab_size=V, num_labels=2).eval()
        model.save_pretrained(tmp_path / head)
        loaded = auto.from_pretrained(tmp_path / head).eval()
        assert type(loaded) is type(model)
        assert loaded.config.architecture == arch
        a, b = model.state_dict(), loaded.state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        if head != "electra":
            with torch.no_grad():
                assert torch.equal(model(ids, mask)[0], loaded(ids, mask)[0])


def test_seeded_build_is_deterministic():
    arch = Architecture(128, (LayerSpec("DSC", 9, 2, 64, 1),))
    a = build_model(arch, seed=5, vocab_size=V).state_dict()
    b = build_model(arch, seed=5, vocab_size=V).state_dict()
    c = build_model(arch, seed=6, vocab_size=V).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_as_trained_2023_variant_is_all_sdp_with_4h_ffn():
    arch = Architecture(128, (LayerSpec("LT", "DFT", 2, 512, 3), LayerSpec("DSC", 5, 4, 1024, 1)))
    model = build_model(arch, variant="as_trained_2023", vocab_size=V)
    layers = model.encoder.layer
    assert [ly.op_name for ly in layers] == ["SA-SDP", "SA-SDP"]
    assert [d.out_features for d in layers[0].ffn.dense] == [512, 512, 512]
    assert [d.out_features for d in layers[1].ffn.dense] == [512]
    named = build_model(arch, vocab_size=V)
    assert [ly.op_name for ly in named.encoder.layer] == ["LT-DFT", "DSC-5"]


def test_invalid_config_errors():
    with pytest.raises(InvalidArchitecture, match="variant='foo' is not known"):
        BertBenchConfig(variant="foo")
    with pytest.raises(InvalidArchitecture, match="heads=3 does not divide hidden_size=128"):
        BertBenchConfig(hidden_size=128, layers=[{"op_type": "SA", "op_param": "SDP", "heads": 3, "ffn_dim": 8, "num_ffn": 1}])
    with pytest.raises(ValueError, match="head='nope'"):
        build_model(Architecture(128, (LayerSpec("SA", "SDP", 2, 8, 1),)), head="nope")


def test_attention_maps_are_returned():
    arch = Architecture(128, (LayerSpec("SA", "WMA", 4, 64, 1), LayerSpec("DSC", 5, 2, 64, 1), LayerSpec("LT", "DCT", 2, 64, 1)))
    model = build_model(arch, seed=0, vocab_size=V).eval()
    ids, mask = batch(b=2, length=10)
    out = model(ids, mask, output_attentions=True, output_hidden_states=True)
    assert out.attentions[0].shape == (2, 4, 10, 10)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(2, 4, 10))
    assert out.attentions[1].shape == (2, 2, 10, 10)  # DSC: the maps of its attention heads
    assert out.attentions[2] is None
    assert len(out.hidden_states) == 4
    with torch.no_grad():
        fast = model(ids, mask).last_hidden_state
    assert torch.allclose(fast, out.last_hidden_state, atol=1e-5)


TOUR = Architecture(64, (LayerSpec("SA", "SDP", 4, 128, 1), LayerSpec("LT", "DFT", 2, 128, 1),
                         LayerSpec("DSC", 9, 2, 128, 1), LayerSpec("SA", "WMA", 2, 128, 1)))


def test_space_and_op_registry_name_the_same_ops():
    """The torch modules (models/ops.py), their formulas (op_costs.py) and the space's op list are one set; every
    module's parameter count and output width equal its registered formula."""
    from bertbench.models.ops import MIXERS, build_mixer
    from bertbench.space import OP_PARAMS
    from bertbench.space.op_costs import OP_COSTS

    assert set(MIXERS) == {(t, p) for t, params in OP_PARAMS.items() for p in params} == set(OP_COSTS)
    for key in OP_COSTS:
        for h, heads in ((64, 2), (128, 4)):
            mixer = build_mixer(*key, h, heads, 0.0)
            assert sum(x.numel() for x in mixer.parameters()) == OP_COSTS.get(key).params(h, heads), key
            assert mixer.out_features == OP_COSTS.get(key).out_factor * h, key


@pytest.mark.parametrize("arch", [Architecture(64, (LayerSpec(t, p, 2, 128, 1),) * 2) for t, p in OPS] + [TOUR],
                         ids=[f"{t}-{p}" for t, p in OPS] + ["tour"])
def test_cls_sees_the_last_real_token(arch):
    """A pair task's second sentence ends the input: [CLS] must depend on the last real token, for every op."""
    model = build_model(arch, seed=0, vocab_size=V).eval()
    ids, mask = batch(b=2, length=24)
    emb = model.embeddings.word_embeddings(ids).detach().requires_grad_(True)
    cls = model(attention_mask=mask, inputs_embeds=emb).last_hidden_state[:, 0]
    direction = torch.randn(cls.shape, generator=torch.Generator().manual_seed(1))  # a post-LN sum is constant
    (cls * direction).sum().backward()
    last = mask.sum(1) - 1
    for row in range(2):
        g = emb.grad[row, last[row]].abs().max()
        assert g > 1e-4 * emb.grad[row, 0].abs().max(), (row, float(g))
        if row == 1 and arch.layers[0].op_type != "LT":  # pads change nothing for SA and DSC
            assert emb.grad[row, last[row] + 1:].abs().max() == 0


@pytest.mark.parametrize("variant", ["as_named", "as_trained_2023"])
def test_analytic_costs_equal_the_built_models(variant):
    """cost.count_params counts the built model's parameters; cost.count_flops equals torch's FLOP counter (the
    attention matmuls made explicit with output_attentions; FFTs are not counted by torch, so LT-DFT is charged as
    the dense transform it equals, exactly the count of its LT-DCT twin, which runs as matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    from bertbench.space.cost import count_flops, count_params

    length = 32
    for t, p in OPS:
        arch = Architecture(128, (LayerSpec(t, p, 4, 512, 3), LayerSpec(t, p, 2, 1024, 1)))
        model = build_model(arch, variant=variant, vocab_size=V).eval()
        assert sum(x.numel() for x in model.parameters()) == count_params(arch, variant, vocab_size=V), (t, p)
        twin = arch if (t, p) != ("LT", "DFT") or variant != "as_named" else Architecture(
            128, tuple(LayerSpec("LT", "DCT", ly.heads, ly.ffn_dim, ly.num_ffn) for ly in arch.layers))
        twin_model = build_model(twin, variant=variant, vocab_size=V).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            twin_model(torch.randint(5, V, (1, length)), output_attentions=True)
        # DSC's dynamic span convolution runs as K shifted multiply-adds, which torch does not count: h k n MACs a layer
        unseen = sum(2 * 128 * p * length for _ in arch.layers) if t == "DSC" and variant == "as_named" else 0
        assert counter.get_total_flops() + unseen == count_flops(arch, length, variant), (t, p, variant)


def test_standalone_copies_agree_with_their_originals():
    """models/standalone.py stands in for bertbench in an exported model folder: its copied functions are the
    originals' source, and its specs parse every architecture of the tiny and paper grids to the same fields."""
    import inspect

    from bertbench.models import standalone
    from bertbench.space import cost
    from bertbench.space.grids import load_grid

    for name in ("ffn_widths", "built_op"):
        assert inspect.getsource(getattr(standalone, name)) == inspect.getsource(getattr(cost, name))
        assert f"# Copied from bertbench.space.cost.{name}" in inspect.getsource(standalone)
    for grid in ("tiny", "paper-2023", "ptb"):
        for arch in load_grid(grid).architectures:
            copy = standalone.Architecture.from_dict(arch.to_dict())
            assert copy.hidden_size == arch.hidden_size
            assert [c.to_dict() for c in copy.layers] == [ly.to_dict() for ly in arch.layers]
    reg = standalone.Registry("token mixer")
    reg.add(("SA", "SDP"), int)
    with pytest.raises(KeyError, match=r"unknown token mixer \('LT', 'DFT'\); known: \('SA', 'SDP'\)"):
        reg.get(("LT", "DFT"))
