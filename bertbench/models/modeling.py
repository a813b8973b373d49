"""bertbench models: a post-LN encoder whose layers are built from the architecture, ELECTRA generator and
discriminator, and a sequence classification / regression head. Self-contained, in the style of transformers'
modeling files.

Layer (post-LN, as BERT/ELECTRA):
    m = mixer(x);           x = LayerNorm(x + dropout(dense(m)))   (dense H->H; 2H->H for DSC's mixed heads)
    f = ffn_stack(x);       x = LayerNorm(x + dropout(f))
Embeddings as ELECTRA-small: word + position + token type (size ``embedding_size`` = 128), LayerNorm, dropout, then a
dense projection to the hidden size when the sizes differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput, SequenceClassifierOutput
from transformers.utils import ModelOutput

from .configuration import BertBenchConfig
from .ops import build_mixer

try:  # inside bertbench; an exported model folder without bertbench uses the copies (models/standalone.py)
    from bertbench.space import LayerSpec
    from bertbench.space.cost import built_op, ffn_widths
except ImportError:
    from .standalone import LayerSpec, built_op, ffn_widths


class BertBenchEmbeddings(nn.Module):
    """Word, position and token-type embeddings of size ``embedding_size``, summed, LayerNorm, dropout."""

    def __init__(self, config: BertBenchConfig) -> None:
        super().__init__()
        e = config.embedding_size
        self.word_embeddings = nn.Embedding(config.vocab_size, e, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, e)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, e)
        self.LayerNorm = nn.LayerNorm(e, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        b, length = inputs_embeds.shape[:2]
        if length > self.position_embeddings.num_embeddings:
            raise ValueError(
                f"sequence length {length} exceeds max_position_embeddings={self.position_embeddings.num_embeddings}"
            )
        if position_ids is None:
            position_ids = torch.arange(length, device=inputs_embeds.device)[None, :]
        if token_type_ids is None:
            token_type_ids = torch.zeros(b, length, dtype=torch.long, device=inputs_embeds.device)
        x = inputs_embeds + self.position_embeddings(position_ids) + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class FeedForwardStack(nn.Module):
    """``widths`` dense layers each followed by GELU, then a dense layer back to H, dropout, residual, LayerNorm."""

    def __init__(self, hidden_size: int, widths: list[int], dropout: float, eps: float) -> None:
        super().__init__()
        dims = [hidden_size, *widths]
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = nn.ModuleList(nn.GELU() for _ in widths)  # one module per use: hooks never pile up
        self.output = nn.Linear(dims[-1], hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for dense, act in zip(self.dense, self.act):
            h = act(dense(h))
        return self.LayerNorm(x + self.dropout(self.output(h)))


class BertBenchLayer(nn.Module):
    """One encoder layer: token mixer, output projection, residual, LayerNorm; then the FFN stack."""

    def __init__(self, config: BertBenchConfig, layer: LayerSpec) -> None:
        super().__init__()
        h = config.hidden_size
        op_type, op_param = built_op(layer, config.variant)
        self.op_name = f"{op_type}-{op_param}"
        self.mixer = build_mixer(op_type, op_param, h, layer.heads, config.attention_probs_dropout_prob)
        self.mixer_output = nn.Linear(self.mixer.out_features, h)
        self.mixer_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.mixer_LayerNorm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        widths = ffn_widths(layer, h, config.variant)
        self.ffn = FeedForwardStack(h, widths, config.hidden_dropout_prob, config.layer_norm_eps)

    def forward(
        self, x: torch.Tensor, key_mask: torch.Tensor | None, output_attentions: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        m, probs = self.mixer(x, key_mask, output_attentions)
        x = self.mixer_LayerNorm(x + self.mixer_dropout(self.mixer_output(m)))
        return self.ffn(x), probs


class BertBenchEncoder(nn.Module):
    def __init__(self, config: BertBenchConfig) -> None:
        super().__init__()
        arch = config.architecture
        self.layer = nn.ModuleList(BertBenchLayer(config, ly) for ly in arch.layers)

    def forward(
        self,
        x: torch.Tensor,
        key_mask: torch.Tensor | None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
    ) -> BaseModelOutput:
        hidden: list[torch.Tensor] = [x] if output_hidden_states else []
        attns: list[torch.Tensor | None] = []
        for layer in self.layer:
            x, probs = layer(x, key_mask, output_attentions)
            if output_hidden_states:
                hidden.append(x)
            if output_attentions:
                attns.append(probs)
        return BaseModelOutput(
            last_hidden_state=x,
            hidden_states=tuple(hidden) if output_hidden_states else None,
            attentions=tuple(attns) if output_attentions else None,
        )


def _key_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    if attention_mask is None:
        return None
    mask = attention_mask.bool()
    return None if bool(mask.all()) else mask


class BertBenchPreTrainedModel(PreTrainedModel):
    """Base class: weight init N(0, initializer_range) for Linear/Conv/Embedding (pad row 0), LayerNorm (1, 0)."""

    config_class = BertBenchConfig
    base_model_prefix = "bertbench"
    supports_gradient_checkpointing = False


class BertBenchModel(BertBenchPreTrainedModel):
    """The encoder: embeddings (+ projection to H when embedding_size != H) and the layers of the architecture."""

    def __init__(self, config: BertBenchConfig) -> None:
        super().__init__(config)
        self.embeddings = BertBenchEmbeddings(config)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
        else:
            self.embeddings_project = None
        self.encoder = BertBenchEncoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def encode(self, embedded: torch.Tensor, attention_mask: torch.Tensor | None, output_hidden_states: bool = False,
               output_attentions: bool = False) -> BaseModelOutput:
        """Run the projection and the encoder on embedding outputs (used by ELECTRA, which shares embeddings)."""
        x = self.embeddings_project(embedded) if self.embeddings_project is not None else embedded
        return self.encoder(x, _key_mask(attention_mask), output_hidden_states, output_attentions)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool = False,
        output_attentions: bool = False,
        **kwargs: object,
    ) -> BaseModelOutput:
        emb = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        return self.encode(emb, attention_mask, output_hidden_states, output_attentions)


class GeneratorHead(nn.Module):
    """ELECTRA generator head: dense H -> E, GELU, LayerNorm; logits = h E_word^T + bias (tied embeddings)."""

    def __init__(self, config: BertBenchConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.act = nn.GELU()
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, h: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(self.LayerNorm(self.act(self.dense(h))), word_embeddings, self.bias)


class BertBenchForMaskedLM(BertBenchPreTrainedModel):
    """Masked-LM model (BERT-style pretraining, and the shape of the ELECTRA generator). The decoder is tied to the
    word embeddings. Logits are computed only where ``labels != -100`` when labels are given (cheaper)."""

    def __init__(self, config: BertBenchConfig) -> None:
        super().__init__(config)
        self.bertbench = BertBenchModel(config)
        self.head = GeneratorHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: object,
    ) -> MaskedLMOutput:
        h = self.bertbench(input_ids, attention_mask, token_type_ids).last_hidden_state
        w = self.bertbench.embeddings.word_embeddings.weight
        if labels is None:
            return MaskedLMOutput(logits=self.head(h, w))
        sel = labels != -100
        logits = self.head(h[sel], w)
        loss = F.cross_entropy(logits.float(), labels[sel]) if logits.numel() else h.sum() * 0.0
        return MaskedLMOutput(loss=loss, logits=logits)


@dataclass
class ElectraPretrainingOutput(ModelOutput):
    """loss = generator MLM loss + disc_weight x discriminator loss; plus the parts and the discriminator's view."""

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    disc_loss: torch.Tensor | None = None
    disc_logits: torch.Tensor | None = None
    disc_labels: torch.Tensor | None = None
    disc_accuracy: torch.Tensor | None = None


class BertBenchForPreTraining(BertBenchPreTrainedModel):
    """ELECTRA replaced-token detection: a generator (the same layers at ``generator_size`` x H, masked LM) and the
    discriminator (this architecture), sharing one embedding layer; the generator's decoder is tied to it.

    ``forward(input_ids, labels)``: ``input_ids`` holds [MASK] at the selected positions and ``labels`` the original
    ids there (-100 elsewhere). Generator logits are computed only at masked positions. Replacements are sampled
    from the generator (temperature 1, Gumbel-max, torch's global RNG) without gradient.
    """

    def __init__(self, config: BertBenchConfig, disc_weight: float = 50.0) -> None:
        super().__init__(config)
        self.disc_weight = disc_weight
        gen_config = config.generator_config()
        self.discriminator = BertBenchModel(config)
        self.generator = BertBenchModel(gen_config)
        self.generator.embeddings = None  # shared: the discriminator's embeddings feed both
        self.generator_head = GeneratorHead(gen_config)
        self.disc_dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.disc_act = nn.GELU()
        self.disc_out = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def generator_mlm(self, input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's logits at the masked positions (``labels != -100``) and its masked-LM loss."""
        emb_layer = self.discriminator.embeddings
        sel = labels != -100
        gen_h = self.generator.encode(emb_layer(input_ids, token_type_ids), attention_mask).last_hidden_state
        logits = self.generator_head(gen_h[sel], emb_layer.word_embeddings.weight).float()
        mlm_loss = F.cross_entropy(logits, labels[sel]) if logits.numel() else gen_h.sum() * 0.0
        return logits, mlm_loss

    def discriminate(self, disc_ids: torch.Tensor, disc_labels: torch.Tensor, attention_mask: torch.Tensor | None = None,
                     token_type_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The discriminator's logits on ``disc_ids``, its replaced-token-detection loss against ``disc_labels``
        (1 = replaced) and its accuracy, both over the attended positions."""
        emb_layer = self.discriminator.embeddings
        disc_h = self.discriminator.encode(emb_layer(disc_ids, token_type_ids), attention_mask).last_hidden_state
        disc_logits = self.disc_out(self.disc_act(self.disc_dense(disc_h))).squeeze(-1).float()
        weight = torch.ones_like(disc_logits) if attention_mask is None else attention_mask.to(disc_logits.dtype)
        per_token = F.binary_cross_entropy_with_logits(disc_logits, disc_labels, reduction="none")
        disc_loss = (per_token * weight).sum() / weight.sum().clamp_min(1.0)
        with torch.no_grad():
            acc = (((disc_logits > 0).float() == disc_labels).float() * weight).sum() / weight.sum().clamp_min(1.0)
        return disc_logits, disc_loss, acc

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        **kwargs: object,
    ) -> ElectraPretrainingOutput:
        sel = labels != -100
        logits, mlm_loss = self.generator_mlm(input_ids, labels, attention_mask, token_type_ids)
        with torch.no_grad():
            u = torch.rand_like(logits).clamp_(1e-9, 1.0 - 1e-9)
            sampled = (logits - torch.log(-torch.log(u))).argmax(-1)
            disc_ids = input_ids.clone()
            disc_ids[sel] = sampled
            original = input_ids.clone()
            original[sel] = labels[sel]
            disc_labels = (disc_ids != original).float()
        disc_logits, disc_loss, acc = self.discriminate(disc_ids, disc_labels, attention_mask, token_type_ids)
        return ElectraPretrainingOutput(loss=mlm_loss + self.disc_weight * disc_loss, mlm_loss=mlm_loss,
                                        disc_loss=disc_loss, disc_logits=disc_logits, disc_labels=disc_labels,
                                        disc_accuracy=acc)


class BertBenchForSequenceClassification(BertBenchPreTrainedModel):
    """[CLS] -> dropout -> dense H->H -> GELU -> dropout -> dense H->num_labels (ELECTRA's head).
    ``num_labels == 1`` is regression (MSE), otherwise classification (cross-entropy)."""

    def __init__(self, config: BertBenchConfig) -> None:
        super().__init__(config)
        self.bertbench = BertBenchModel(config)
        p = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(p)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = nn.GELU()
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: object,
    ) -> SequenceClassifierOutput:
        h = self.bertbench(input_ids, attention_mask, token_type_ids).last_hidden_state[:, 0]
        logits = self.out_proj(self.dropout(self.act(self.dense(self.dropout(h))))).float()
        loss = None
        if labels is not None:
            if self.config.num_labels == 1:
                loss = F.mse_loss(logits.squeeze(-1), labels.float())
            else:
                loss = F.cross_entropy(logits, labels.long())
        return SequenceClassifierOutput(loss=loss, logits=logits)
