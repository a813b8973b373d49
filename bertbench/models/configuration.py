"""`BertBenchConfig`: a transformers config that holds one NAS-Bench-BERT architecture and how to build it."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

try:  # inside bertbench; an exported model folder without bertbench uses the copies (models/standalone.py)
    from bertbench.errors import InvalidArchitecture
    from bertbench.space import Architecture, LayerSpec
except ImportError:
    from .standalone import Architecture, InvalidArchitecture, LayerSpec

VARIANTS = ("as_named", "as_trained_2023")


class BertBenchConfig(PretrainedConfig):
    """Configuration of a bertbench encoder.

    ``layers`` is the list of layer dicts of an :class:`~bertbench.space.Architecture` (our layout) and
    ``hidden_size`` its global hidden size. ``variant`` picks the builder:

    - ``"as_named"`` (default): every op is built as named (SA-SDP, SA-WMA, LT-DFT, LT-DCT, DSC-5, DSC-9), and the
      feed-forward stack of a layer is ``num_ffn`` dense layers of width ``ffn_dim`` (each followed by GELU), then a
      dense layer back to ``hidden_size``: H -> F -> ... -> F -> H, i.e. (num_ffn - 1) F x F layers in between.
    - ``"as_trained_2023"``: what the 2023 benchmark really trained (its TF code compared op names with
      ``is``, so no alternative op ever ran): every mixer is SA-SDP with the
      layer's heads, and the FFN is H -> 4H -> (num_ffn - 1) x ffd -> H.

    ``generator_size`` is the ELECTRA generator's hidden size as a fraction of ``hidden_size`` (0.25 in the paper).
    """

    model_type = "bertbench"

    def __init__(
        self,
        hidden_size: int = 128,
        layers: list[dict[str, Any]] | None = None,
        variant: str = "as_named",
        vocab_size: int = 30522,
        embedding_size: int = 128,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        generator_size: float = 0.25,
        classifier_dropout: float | None = None,
        pad_token_id: int = 0,
        **kwargs: Any,
    ) -> None:
        self.hidden_size = hidden_size
        self.layers = [dict(x) for x in (layers or [LayerSpec("SA", "SDP", 2, 512, 1).to_dict()])]
        if variant not in VARIANTS:
            raise InvalidArchitecture(f"variant={variant!r} is not known; allowed: {VARIANTS}")
        self.variant = variant
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.generator_size = generator_size
        self.classifier_dropout = classifier_dropout
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.architecture  # validate now: a bad spec fails at config time  # noqa: B018

    @property
    def num_hidden_layers(self) -> int:
        return len(self.layers)

    @property
    def architecture(self) -> Architecture:
        return Architecture.from_dict({"hidden_size": self.hidden_size, "layers": self.layers})

    @classmethod
    def from_architecture(cls, arch: Architecture, **kwargs: Any) -> BertBenchConfig:
        return cls(hidden_size=arch.hidden_size, layers=[ly.to_dict() for ly in arch.layers], **kwargs)

    def generator_config(self) -> BertBenchConfig:
        """The ELECTRA generator's config: the same layers at ``generator_size`` x hidden size.

        as_named: widths of the FFN stacks scale by the same factor (ELECTRA scales its intermediate size).
        as_trained_2023: first FFN layer 4 x generator hidden; extra FFN layers keep the absolute ``ffn_dim`` (as the 2023 TF code).
        """
        h = max(1, int(round(self.hidden_size * self.generator_size)))
        layers = []
        for ly in self.layers:
            ly = dict(ly)
            if self.variant == "as_named":
                ly["ffn_dim"] = max(1, int(round(ly["ffn_dim"] * self.generator_size)))
            layers.append(ly)
        d = self.to_dict()
        for key in ("model_type", "transformers_version", "architectures"):
            d.pop(key, None)
        d.update(hidden_size=h, layers=layers)
        return BertBenchConfig(**d)
