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

from . import SEQUENCE_DISCRIMINATORS, SEQUENCE_GENERATORS


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

    def forward(self, tokens: torch.Tensor | None = None, relaxed: tuple | None = None):
        """Teacher-forced logits (B, L, V) of the next token for ``tokens`` (B, L) int64; or, given
        ``relaxed=(n, mode, tau)``, :meth:`relaxed`'s free-running sequences (through ``forward``, so a
        DDP wrapper synchronises their gradients too)."""
        if relaxed is not None:
            return self.relaxed(*relaxed)
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

    # -- free running ---------------------------------------------------------------------------
    def _step(self, x: torch.Tensor, state):
        """Feed ids ``x`` (B, 1): the logits (B, V) of the next position (padding at -inf) and the state."""
        h, state = self.lstm(self.embed(x), state)
        return self._mask(self.out(h[:, 0]).float()), state

    def _draw(self, logits: torch.Tensor, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Inverse-CDF draw of one id per row of ``logits`` (B, V) at temperatures ``t`` (B, 1) from
        uniforms ``u`` (B, 1); temperature 0 is the argmax."""
        drawn = self._inverse_cdf(F.softmax(logits / t.clamp_min(1e-8), 1), u)
        return torch.where(t.squeeze(1) > 0, drawn, logits.argmax(1))

    def _inverse_cdf(self, p: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The first id whose cumulative probability under ``p`` (B, V) exceeds ``u`` (B, 1)."""
        return torch.searchsorted(p.cumsum(1), u.contiguous(), right=True).squeeze(1).clamp(self.first,
                                                                                            self.vocab_size - 1)

    def _finish(self, nxt: torch.Tensor, i: int, done: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The end rules at position ``i``: padding after an end, the end id at the last position."""
        if self.end is None:
            return nxt, done
        if i == self.length - 1:
            nxt = torch.full_like(nxt, self.end)
        nxt = torch.where(done, torch.full_like(nxt, self.pad), nxt)
        return nxt, done | (nxt == self.end)

    def _unroll(self, tokens: torch.Tensor, first: int, logits: torch.Tensor, state, done: torch.Tensor,
                u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Fill ``tokens[:, first:]`` by sampling, starting from the ``logits`` of position ``first``."""
        for i in range(first, self.length):
            if i > first:
                logits, state = self._step(tokens[:, i - 1:i], state)
            nxt, done = self._finish(self._draw(logits, u[:, i:i + 1], t), i, done)
            tokens[:, i] = nxt
        return tokens

    def _start(self, b: int, dev: torch.device):
        return self._step(torch.full((b, 1), self.vocab_size, dtype=torch.long, device=dev), None)

    @torch.no_grad()
    def sample(self, u: torch.Tensor, temperature: torch.Tensor | float = 1.0) -> torch.Tensor:
        """Sequences (B, L) int64 for uniforms ``u`` (B, L) in [0, 1); ``temperature`` (B,) or a number
        (0: greedy). Deterministic given ``u``."""
        b = u.shape[0]
        dev = self.out.weight.device
        u = u.to(dev, torch.float32)
        t = torch.as_tensor(temperature, dtype=torch.float32, device=dev).expand(b).unsqueeze(1)  # (B, 1)
        tokens = torch.full((b, self.length), self.pad if self.pad is not None else 0, dtype=torch.long, device=dev)
        logits, state = self._start(b, dev)
        return self._unroll(tokens, 0, logits, state, torch.zeros(b, dtype=torch.bool, device=dev), u, t)

    @torch.no_grad()
    def rollouts(self, tokens: torch.Tensor, k: int, generator: torch.Generator | None = None):
        """Monte-Carlo completions of every prefix of ``tokens`` (B, L) (SeqGAN's rollouts, Yu et al.
        2017): yields ``(t, completions)`` for prefix lengths t = 1 .. L - 1, ``completions`` (k·B, L)
        int64 whose first t positions are ``tokens``' (row j·B + b completes sequence b), the rest
        sampled at temperature 1. The LSTM reads each prefix once; its state is copied k times."""
        b, L = tokens.shape
        dev = self.out.weight.device
        tokens = tokens.to(dev)
        one = torch.ones(k * b, 1, device=dev)
        _, state = self._start(b, dev)
        for t in range(1, L):
            logits, state = self._step(tokens[:, t - 1:t], state)
            out = tokens.repeat(k, 1)
            done = (out[:, :t] == self.end).any(1) if self.end is not None else torch.zeros(k * b, dtype=torch.bool,
                                                                                                device=dev)
            u = torch.rand(k * b, L, device=dev, generator=generator)
            rep = tuple(s.repeat(1, k, 1) for s in state)
            yield t, self._unroll(out, t, logits.repeat(k, 1), rep, done, u, one)

    def relaxed(self, n: int, mode: str, tau: float = 1.0, generator: torch.Generator | None = None):
        """Free-running sequences with a differentiable stand-in for each token: ``(tokens (n, L) int64,
        soft (n, L, V) float)``. ``mode="gumbel"`` (Jang et al. 2017; RelGAN, Nie et al. 2019): the token
        is argmax(o + g) for Gumbel noise g (a draw from softmax(o)) and its stand-in softmax((o + g) / tau);
        ``mode="softmax"`` (the softmax-WGAN-GP language model, Gulrajani et al. 2017): the token is drawn
        from softmax(o) and its stand-in is that softmax. Either way the next position reads the drawn
        token (the gradient reaches G's weights through every position's logits o, not through the
        draws). Padding after an end and the forced last end are constant one-hots, as in the data."""
        if mode not in ("gumbel", "softmax"):
            raise ValueError(f"mode must be gumbel or softmax, got {mode!r}")
        dev = self.out.weight.device
        V, L = self.vocab_size, self.length
        done = torch.zeros(n, dtype=torch.bool, device=dev)
        ids, soft = [], []
        logits, state = self._start(n, dev)
        for i in range(L):
            if i > 0:
                logits, state = self._step(ids[-1].unsqueeze(1), state)
            if mode == "gumbel":
                u = torch.rand(n, V, device=dev, generator=generator).clamp_(1e-10, 1.0 - 1e-7)
                z = logits - torch.log(-torch.log(u))
                nxt = z.argmax(1)
                y = F.softmax(z / tau, 1)
            else:
                y = F.softmax(logits, 1)
                u = torch.rand(n, 1, device=dev, generator=generator)
                nxt = self._inverse_cdf(y.detach(), u)
            was_done = done
            nxt, done = self._finish(nxt, i, done)
            if self.end is not None:
                fixed = was_done | ((i == L - 1) & ~was_done)
                y = torch.where(fixed.unsqueeze(1), F.one_hot(nxt, V).to(y.dtype), y)
            ids.append(nxt)
            soft.append(y)
        tokens = torch.stack(ids, 1)
        return tokens, torch.stack(soft, 1)


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


def _int_list(text: str | tuple | list, key: str) -> list[int]:
    items = [int(x) for x in str(text).replace(" ", "").split(",") if x] if isinstance(text, str) else list(text)
    if not items or any(x < 1 for x in items):
        raise ValueError(f"{key}: {text!r} must be a comma-separated list of positive integers")
    return items


@SEQUENCE_DISCRIMINATORS.register("cnn")
class CNNSequenceDiscriminator(nn.Module):
    """SeqGAN's discriminator (Yu et al. 2017, after Kim 2014 and Zhang & LeCun 2015): token embedding,
    1-D convolutions of several widths over the whole sequence, max-pooled over time, a highway layer,
    dropout, and one logit ("more real" is higher).

    It reads ids (B, L) int64, or distributions over the vocabulary (B, L, V) float: one-hots of
    real data, or a relaxed generator's soft tokens, embedded as ``x @ E`` (the same map for a one-hot).
    ``widths``/``counts``: the convolutions (the paper's, on the oracle: widths 1-10, 15, 20 with
    100-200 filters each); widths longer than the sequence are left out."""

    def __init__(self, vocab_size: int, length: int, embedding: int = 64,
                 widths: str = "1,2,3,4,5,6,7,8,9,10,15,20",
                 counts: str = "100,200,200,200,200,100,100,100,100,100,160,160",
                 dropout: float = 0.25, highway: bool = True):
        super().__init__()
        w, c = _int_list(widths, "widths"), _int_list(counts, "counts")
        if len(w) != len(c):
            raise ValueError(f"widths ({len(w)}) and counts ({len(c)}) must have as many entries")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        kept = [(k, n) for k, n in zip(w, c) if k <= length]
        if not kept:
            raise ValueError(f"no convolution width fits sequences of {length} positions (widths {widths})")
        self.vocab_size, self.length = vocab_size, length
        self.embed = nn.Embedding(vocab_size, embedding)
        self.convs = nn.ModuleList(nn.Conv1d(embedding, n, k) for k, n in kept)
        features = sum(n for _, n in kept)
        self.highway = nn.Linear(features, 2 * features) if highway else None
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.int64, torch.int32):
            e = self.embed(x)                                            # (B, L, E)
        else:
            if x.shape[-1] != self.vocab_size:
                raise ValueError(f"expected distributions over {self.vocab_size} ids, got shape {tuple(x.shape)}")
            e = x.to(self.embed.weight.dtype) @ self.embed.weight
        e = e.transpose(1, 2)                                            # (B, E, L)
        h = torch.cat([F.relu(conv(e)).amax(2) for conv in self.convs], 1)
        if self.highway is not None:
            gate, value = self.highway(h).chunk(2, 1)
            t = torch.sigmoid(gate)
            h = t * F.relu(value) + (1 - t) * h
        return self.out(self.drop(h)).squeeze(1)
