"""A tiny decoder-only transformer, written out in plain torch for the three-phases demo."""

from __future__ import annotations

import math
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    """Pre-LayerNorm block: causal self-attention, then a GELU MLP, each added to the stream."""

    def __init__(self, dim: int, heads: int, mlp_mult: int = 4):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, mlp_mult * dim), nn.Linear(mlp_mult * dim, dim)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for z in self.qkv(self.ln1(x)).split(d, dim=-1)
        )
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class TinyLM(nn.Module):
    """A pre-LN GPT: token and learned position embeddings, ``n_layers`` blocks, a final
    LayerNorm (``ln_f``), an untied unembedding without bias.

    Initialised as GPT-2 is: weights N(0, 0.02), biases 0, and the two projections that write
    into the residual stream in each block (``proj``, ``fc2``) N(0, 0.02/√(2·n_layers)). The
    modules ``blocks.0``, ``blocks.1``, … are the residual stream after each block; ``ln_f`` is
    what the unembedding reads.

    Parameters
    ----------
    vocab : int
    dim : int, default 16
    n_layers : int, default 2
    heads : int, default 4
    context : int, default 64

    Examples
    --------
    >>> TinyLM(100)(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 100])
    """

    def __init__(
        self, vocab: int, dim: int = 16, n_layers: int = 2, heads: int = 4, context: int = 64
    ):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, dim), nn.Embedding(context, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in cast("list[Block]", self.blocks):  # a ModuleList of Blocks
            for out in (block.proj, block.fc2):
                nn.init.normal_(out.weight, std=0.02 / math.sqrt(2 * n_layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: Any = None) -> torch.Tensor:
        """Logits ``(batch, time, vocab)``. Attention is causal, so right padding (the mask) never
        changes the states of the tokens before it; the mask is accepted and not needed."""
        x = self.tok(input_ids) + self.pos(
            torch.arange(input_ids.shape[1], device=input_ids.device)
        )
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))
