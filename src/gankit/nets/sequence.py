"""Sequence generators: autoregressive models of token sequences (the G of the sequence games).

A sequence generator over a vocabulary of ``V`` ids and sequences of ``L`` positions has two uses:

- ``log_probs(tokens)``: teacher-forced log-probabilities (B, L, V) of the next token at every
  position (the input at position t is the token at t - 1, a learned start symbol at t = 0);
- ``sample(u, temperature)``: autoregressive sampling by inverse CDF: position t takes the first id
  whose cumulative probability exceeds ``u[:, t]`` (``u`` uniform in [0, 1)), so the same ``u`` gives
  the same sequences on any device, and a temperature of 0 is greedy decoding.

Ids below ``first`` (the padding id of variable-length vocabularies) are never produced. With an
``end`` id, every position after the first ``end`` is padding, and the last position is ``end``
whatever the model says (sequences have at most L - 1 symbols, as the data).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import SEQUENCE_GENERATORS


@SEQUENCE_GENERATORS.register("lstm")
class LSTMGenerator(nn.Module):
    """Embedding -> LSTM -> linear logits (the generator of SeqGAN, Yu et al. 2017: embedding and
    hidden size 32 on the oracle task).

    ``vocab_size`` V ids; ``length`` L positions; ``pad``: the padding id (never produced, ignored by
    the likelihood) or None; ``end``: the end id or None (fixed-length sequences)."""

    def __init__(self, vocab_size: int, length: int, embedding: int = 32, hidden: int = 32, layers: int = 1,
                 pad: int | None = 0, end: int | None = 1):
        super().__init__()
        if vocab_size < 2 or length < 1:
            raise ValueError(f"needs a vocabulary of >= 2 ids and >= 1 position, got {vocab_size} and {length}")
        self.vocab_size, self.length, self.pad, self.end = vocab_size, length, pad, end
        self.first = 0 if pad is None else pad + 1  # ids below it are never produced (pad is 0 when set)
        self.embed = nn.Embedding(vocab_size + 1, embedding)  # the last row is the start symbol
        self.lstm = nn.LSTM(embedding, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def _mask(self, logits: torch.Tensor) -> torch.Tensor:
        if self.first == 0:
            return logits
        return logits.masked_fill(torch.arange(self.vocab_size, device=logits.device) < self.first, float("-inf"))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, L, V) of the next token for ``tokens`` (B, L) int64."""
        start = torch.full_like(tokens[:, :1], self.vocab_size)
        h, _ = self.lstm(self.embed(torch.cat([start, tokens[:, :-1]], 1)))   # (B, L, H)
        return self._mask(self.out(h).float())

    def log_probs(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self(tokens), -1)

    def token_log_likelihood(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-likelihood of each sequence (B,), number of scored positions of each (B,)): every
        position up to and including the end id; padding is not scored."""
        logits = self(tokens)
        lp = logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(-1)  # (B, L)
        keep = tokens != self.pad if self.pad is not None else torch.ones_like(tokens, dtype=torch.bool)
        return lp.masked_fill(~keep, 0.0).sum(1), keep.sum(1)

    @torch.no_grad()
    def sample(self, u: torch.Tensor, temperature: torch.Tensor | float = 1.0) -> torch.Tensor:
        """Sequences (B, L) int64 for uniforms ``u`` (B, L) in [0, 1); ``temperature`` (B,) or a number
        (0: greedy). Deterministic given ``u``."""
        b, L = u.shape
        dev = self.out.weight.device
        u = u.to(dev, torch.float32)
        t = torch.as_tensor(temperature, dtype=torch.float32, device=dev).expand(b).unsqueeze(1)  # (B, 1)
        tokens = torch.full((b, L), self.pad if self.pad is not None else 0, dtype=torch.long, device=dev)
        done = torch.zeros(b, dtype=torch.bool, device=dev)
        x = torch.full((b, 1), self.vocab_size, dtype=torch.long, device=dev)
        state = None
        for i in range(L):
            h, state = self.lstm(self.embed(x), state)
            logits = self.out(h[:, 0]).float()[:, self.first:]                  # (B, V - first)
            greedy = logits.argmax(1)
            p = F.softmax(logits / t.clamp_min(1e-8), 1)
            drawn = torch.searchsorted(p.cumsum(1), u[:, i:i + 1].contiguous(), right=True).squeeze(1)
            nxt = torch.where(t.squeeze(1) > 0, drawn.clamp_max(logits.shape[1] - 1), greedy) + self.first
            if self.end is not None:
                if i == L - 1:
                    nxt = torch.full_like(nxt, self.end)
                nxt = torch.where(done, torch.full_like(nxt, self.pad), nxt)
                done = done | (nxt == self.end)
            tokens[:, i] = nxt
            x = nxt.unsqueeze(1)
        return tokens


@torch.no_grad()
def mean_token_nll(G: nn.Module, tokens: torch.Tensor, batch_size: int = 250) -> float:
    """G's negative log-likelihood of ``tokens`` (N, L) in nats per scored token (padding excluded,
    the end id included), in eval mode, in slices of ``batch_size``."""
    was = G.training
    G.eval()
    dev = next(G.parameters()).device
    total, count = 0.0, 0
    try:
        for s in range(0, len(tokens), batch_size):
            ll, n = G.token_log_likelihood(tokens[s:s + batch_size].to(dev))
            total -= float(ll.double().sum())
            count += int(n.sum())
    finally:
        G.train(was)
    return total / max(count, 1)
