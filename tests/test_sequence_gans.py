"""The adversarial sequence games and their parts: BLEU / self-BLEU against NLTK, the CNN sequence
discriminator, the LSTM generator's rollouts and relaxed (gumbel / softmax) sequences, SeqGAN's policy
gradient, rewards and rollout network, the three training stages, Gumbel's β schedule, the config
errors, and the temperature sweep of ``evaluate_run`` (docs/sequences.md)."""
from __future__ import annotations

import json
import warnings

import pytest
import torch
import torch.nn.functional as F

from gankit.api import evaluate_run, prepare_training, train
from gankit.errors import ConfigError, GankitError
from gankit.games.base import Phase
from gankit.metrics.sequences import bleu
from gankit.nets.sequence import CNNSequenceDiscriminator, LSTMGenerator

FAST = ["train.progress=false", "train.tensorboard=false", "train.sample_every=0", "train.checkpoint_every=0"]
TINY = ["model.g.hidden=16", "model.g.embedding=8", "model.d.embedding=8", "model.d.widths=1,3",
        "model.d.counts=4,4", "train.batch_size=8", "game.pretrain_steps=1", "game.pretrain_d_steps=1"]
PAD, END = 0, 1
G_PHASE = Phase("G", ("G",))


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _changed(before: list[torch.Tensor], after: list[torch.Tensor]) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, after))


def _skewed_generator(vocab: int = 8, length: int = 6, seed: int = 0) -> LSTMGenerator:
    """A small LSTM generator in eval mode whose next-token distributions are far from uniform and depend
    on the prefix (so that a wrong LSTM state or a wrong draw shows in the frequencies)."""
    torch.manual_seed(seed)
    G = LSTMGenerator(vocab, length, embedding=8, hidden=16, pad=PAD, end=END).eval()
    with torch.no_grad():
        G.embed.weight.mul_(3.0)
        G.lstm.weight_ih_l0.mul_(3.0)
        G.lstm.weight_hh_l0.mul_(3.0)
        G.out.weight.mul_(6.0)
        G.out.bias.copy_(torch.linspace(-1.5, 1.5, vocab).flip(0))
    return G


# -- BLEU ------------------------------------------------------------------------------------------
# The reference numbers come from NLTK 3.10.4 (not a project dependency), computed once with
#   from nltk.translate.bleu_score import sentence_bleu, SmoothingFunction
#   sentence_bleu(REFS, h, smoothing_function=SmoothingFunction().method1)          for h in HYPS
#   sentence_bleu(SEQS[:i] + SEQS[i+1:], s, smoothing_function=...method1)           for i, s in enumerate(SEQS)
#   sentence_bleu(REFS, h, weights=(0.5, 0.5), smoothing_function=...method1)        (BLEU-2, mean over HYPS)
REFS = [[3, 4, 5, 6, 7, 8], [3, 4, 9, 6, 7], [2, 5, 5, 5, 8, 8, 3]]
HYPS = [[3, 4, 5, 6, 7],                # a prefix of a reference: every n-gram matches, brevity 1 (closest ref 5)
        [5, 5, 5, 5, 5, 5],             # clipping: "5" counts 3 at most (the third reference)
        [9, 6],                         # shorter than 3- and 4-grams (smoothed) and a brevity penalty
        [3, 4, 9, 6, 7, 8, 2, 5],       # longer than every reference
        [8, 8, 3, 4, 5, 6, 2]]          # n-grams matched across different references
NLTK_PER_HYP = [1.0, 0.20205155046766235, 0.07055995207471726, 0.691441569283882, 0.5946035575013605]
NLTK_MEAN = 0.5117313258655244
NLTK_BLEU2_MEAN = 0.7018069569192432
SEQS = [[3, 4, 5, 6, 7], [3, 4, 5, 6, 8, 9], [3, 4, 5, 6, 7], [7, 7, 7], [2, 3, 4, 5, 6, 7, 8, 9],
        [9, 8, 7, 6]]                   # (a duplicate pair; the last ties between lengths 3 and 5: the shorter)
NLTK_SELF_PER_SEQ = [1.0, 0.6042750794713536, 1.0, 0.0814136751754278, 0.5946035575013605, 0.11362193664674995]
NLTK_SELF_MEAN = 0.5656523747991486


def test_bleu_and_self_bleu_equal_nltk_sentence_bleu_with_smoothing_method1():
    for h, expect in zip(HYPS, NLTK_PER_HYP):
        assert bleu([h], REFS) == pytest.approx(expect, rel=1e-12, abs=1e-12), h
    assert bleu(HYPS, REFS) == pytest.approx(NLTK_MEAN, rel=1e-12)
    assert bleu(HYPS, REFS, max_n=2) == pytest.approx(NLTK_BLEU2_MEAN, rel=1e-12)
    # self-BLEU: each sequence against all the others (its duplicate counts, itself does not)
    for i, (s, expect) in enumerate(zip(SEQS, NLTK_SELF_PER_SEQ)):
        assert bleu([s], SEQS[:i] + SEQS[i + 1:]) == pytest.approx(expect, rel=1e-12), s
    assert bleu(SEQS, SEQS, leave_one_out=True) == pytest.approx(NLTK_SELF_MEAN, rel=1e-12)
    # identical sequences score 1; disjoint ones the smoothed value (0.1 match at every order; NLTK's
    # sentence_bleu returns 0 when not even a unigram matches, gankit keeps smoothing there)
    assert bleu([[4, 5, 6, 7, 8]], [[4, 5, 6, 7, 8]]) == pytest.approx(1.0)
    assert bleu([[4, 5, 6, 7, 8]] * 3, [[4, 5, 6, 7, 8]] * 3, leave_one_out=True) == pytest.approx(1.0)
    disjoint = (0.1 / 5 * 0.1 / 4 * 0.1 / 3 * 0.1 / 2) ** 0.25
    assert bleu([[6, 7, 8, 9, 10]], [[1, 2, 3, 4, 5]]) == pytest.approx(disjoint, rel=1e-12)
    assert bleu([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]], [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]],
                leave_one_out=True) == pytest.approx(disjoint, rel=1e-12)
    with pytest.raises(GankitError, match="at least 2"):
        bleu([[1, 2, 3]], [[1, 2, 3]], leave_one_out=True)
    with pytest.raises(GankitError):
        bleu([], [], leave_one_out=True)


# -- the CNN discriminator ----------------------------------------------------------------------------
def test_cnn_discriminator_reads_ids_and_one_hots_alike_and_checks_the_vocabulary():
    torch.manual_seed(0)
    V, L = 10, 7
    D = CNNSequenceDiscriminator(V, L, embedding=8, widths="1,3,20", counts="4,5,6", dropout=0.5).eval()
    assert len(D.convs) == 2  # (width 20 is longer than the sequence: left out)
    ids = torch.randint(V, (16, L), generator=torch.Generator().manual_seed(1))
    out = D(ids)
    assert out.shape == (16,) and out.std() > 0  # one logit per sequence, and they differ
    torch.testing.assert_close(D(F.one_hot(ids, V).float()), out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(D(ids.int()), out)
    # a distribution is embedded as the same mixture of embeddings (what the convolutions read)
    seen = []
    hook = D.convs[0].register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    try:
        D(0.3 * F.one_hot(ids, V).float() + 0.7 * F.one_hot(ids.flip(0), V).float())
    finally:
        hook.remove()
    mixed = (0.3 * D.embed(ids) + 0.7 * D.embed(ids.flip(0))).transpose(1, 2).detach()
    torch.testing.assert_close(seen[0], mixed, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="distributions over 10 ids"):
        D(torch.rand(4, L, V + 1))
    with pytest.raises(ValueError, match="distributions over 10 ids"):
        D(torch.rand(4, L, V - 1))
    with pytest.raises(ValueError, match="no convolution width fits"):
        CNNSequenceDiscriminator(V, 3, widths="4,5", counts="2,2")


# -- rollouts ---------------------------------------------------------------------------------------
def test_rollouts_keep_each_prefix_follow_the_end_rules_and_draw_from_g():
    G = _skewed_generator(seed=1)
    V, L, k = G.vocab_size, G.length, 1500
    tokens = torch.tensor([[2, 3, 4, 5, 6, 7],     # never ends (the last position is not even the end id)
                           [3, END, PAD, PAD, PAD, PAD],
                           [5, 5, 2, END, PAD, PAD]])
    B = len(tokens)
    with torch.no_grad():
        probs = F.softmax(G(tokens), -1)  # teacher forced: position t given tokens[:, :t]
    seen = []
    for t, comp in G.rollouts(tokens, k, generator=torch.Generator().manual_seed(3)):
        seen.append(t)
        assert comp.shape == (k * B, L) and comp.dtype == torch.int64
        comp = comp.view(k, B, L)  # row j*B + b completes sequence b
        assert torch.equal(comp[:, :, :t], tokens[:, :t].expand(k, B, t))
        for b in range(B):
            rows = comp[:, b]
            if (tokens[b, :t] == END).any():  # an ended prefix: nothing left to draw
                assert torch.equal(rows, tokens[b].expand(k, L))
                continue
            for row in rows.tolist():
                assert END in row, row  # (the last position at the latest)
                e = row.index(END)
                assert all(x >= 2 for x in row[:e]) and all(x == PAD for x in row[e + 1:]), row
            assert (rows[:, -1] == END).sum() == (~(rows[:, :-1] == END).any(1)).sum()
            if t < L - 1:  # position t is a draw from G's distribution given the prefix
                freq = torch.bincount(rows[:, t], minlength=V).float() / k
                assert (freq - probs[b, t]).abs().max() < 0.05, (t, b, freq, probs[b, t])
                # and position t + 1 continues from the drawn token (the copied LSTM state goes on)
                c = int(freq.argmax())
                if t < L - 2 and c != END:
                    given = rows[rows[:, t] == c]
                    nxt = F.softmax(G(given[:1]), -1)[0, t + 1]
                    freq = torch.bincount(given[:, t + 1], minlength=V).float() / len(given)
                    assert (freq - nxt).abs().max() < 0.1, (t, b, freq, nxt)
                assert len({tuple(r) for r in rows.tolist()}) > 3  # the completions differ
    assert seen == list(range(1, L))
    # the distributions are prefix-dependent, so the frequency check above does tell contexts apart
    assert (probs[0, 1] - probs[1, 1]).abs().max() > 0.2 and (probs[0, 1] - probs[2, 1]).abs().max() > 0.2
    # the same generator seed gives the same completions; another seed others
    def run(seed):
        return torch.stack([c for _, c in G.rollouts(tokens, 4, generator=torch.Generator().manual_seed(seed))])
    assert torch.equal(run(11), run(11)) and not torch.equal(run(11), run(12))


# -- relaxed sequences --------------------------------------------------------------------------------
def _fixed_positions(tokens: torch.Tensor) -> torch.Tensor:
    """Where relaxed sequences hold constant one-hots: padding after an end, and a forced last end."""
    ended_before = torch.cumsum((tokens == END).long(), 1) - (tokens == END).long() > 0
    ended_before[:, -1] = True
    return ended_before


def _assert_draws_follow_g(G: LSTMGenerator, tokens: torch.Tensor, tol: float = 0.06) -> None:
    """Free-running ``tokens`` are draws from G: at every position, among the sequences still running
    there (which depends on the prefix only), the frequency of each id matches the mean of G's
    teacher-forced probabilities of it."""
    with torch.no_grad():
        probs = F.softmax(G(tokens), -1)
    fixed = _fixed_positions(tokens)
    checked = 0
    for i in range(G.length - 1):
        live = ~fixed[:, i]
        if live.sum() < 300:
            continue
        freq = torch.bincount(tokens[live, i], minlength=G.vocab_size).float() / live.sum()
        expect = probs[live, i].mean(0)
        assert (freq - expect).abs().max() < tol, (i, freq, expect)
        checked += 1
    assert checked >= 3


def test_relaxed_softmax_is_the_teacher_forced_softmax_and_carries_its_gradient():
    G = _skewed_generator(seed=1)
    V = G.vocab_size
    n = 3000
    tokens, soft = G.relaxed(n, "softmax", generator=torch.Generator().manual_seed(0))
    assert soft.shape == (n, G.length, V) and tokens.shape == (n, G.length)
    probs = F.softmax(G(tokens), -1)
    fixed = _fixed_positions(tokens)
    assert fixed.any() and (~fixed).any()
    torch.testing.assert_close(soft[~fixed], probs[~fixed], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(soft[fixed], F.one_hot(tokens[fixed], V).float())
    torch.testing.assert_close(soft.sum(-1), torch.ones(n, G.length))
    _assert_draws_follow_g(G, tokens)  # the drawn tokens follow the softmax
    # the gradient reaches G's weights through the logits given the drawn prefix, not through the draws:
    # a loss on soft has the gradient of the same loss on the teacher-forced softmax
    w = torch.randn(64, G.length, V, generator=torch.Generator().manual_seed(1))
    G.zero_grad()
    tokens, soft = G.relaxed(64, "softmax", generator=torch.Generator().manual_seed(2))
    (soft * w).sum().backward()
    relaxed_grads = [p.grad.clone() for p in G.parameters()]
    assert all(g.abs().sum() > 0 for g in (G.lstm.weight_ih_l0.grad, G.lstm.weight_hh_l0.grad, G.embed.weight.grad))
    G.zero_grad()
    keep = ~_fixed_positions(tokens)
    (F.softmax(G(tokens), -1) * w * keep.unsqueeze(-1)).sum().backward()
    for a, p in zip(relaxed_grads, G.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-5)


def test_relaxed_gumbel_draws_are_the_argmax_and_follow_g():
    G = _skewed_generator(seed=2)
    V, n = G.vocab_size, 3000
    tokens, soft = G.relaxed(n, "gumbel", 1e-3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(soft.argmax(-1), tokens)
    # at a small temperature the stand-ins are (almost) the one-hots of the drawn tokens
    assert (soft - F.one_hot(tokens, V).float()).abs().sum(-1).mean() < 1e-3
    tokens, soft = G.relaxed(n, "gumbel", 1.0, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(soft.sum(-1), torch.ones(n, G.length))
    assert torch.equal(soft.argmax(-1), tokens)
    fixed = _fixed_positions(tokens)
    assert soft[~fixed].amax(-1).mean() < 0.9  # at tau = 1 they are soft
    torch.testing.assert_close(soft[fixed], F.one_hot(tokens[fixed], V).float())
    _assert_draws_follow_g(G, tokens)  # Gumbel-max draws from softmax(o)
    assert torch.all((tokens != PAD) | fixed)  # padding only after an end
    G.zero_grad()
    _, soft = G.relaxed(16, "gumbel", 1.0, generator=torch.Generator().manual_seed(2))
    (soft * torch.randn_like(soft)).sum().backward()
    assert G.lstm.weight_hh_l0.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="gumbel or softmax"):
        G.relaxed(2, "argmax")


# -- SeqGAN -------------------------------------------------------------------------------------------
def _seqgan(tmp_path, *extra):
    return prepare_training("seqgan-names", FAST + TINY + ["train.steps=6", "game.rollouts=2", *extra],
                            out=tmp_path / "seqgan")


def test_seqgan_policy_gradient_raises_the_share_of_rewarded_sequences(tmp_path):
    trainer = _seqgan(tmp_path)
    game = trainer.game
    game.iterations = game.adversarial_start  # the adversarial stage from the next G phase on
    first = game.vocabulary.encode("k")[0]    # the rewarded first letter
    game.rewards = lambda tokens: (tokens[:, :1] == first).float().expand_as(tokens).clone()
    u = torch.rand(3000, game.length, generator=torch.Generator().manual_seed(0))

    def share() -> float:
        return float((game.G.sample(u, 1.0)[:, 0] == first).float().mean())

    before = share()
    opt = torch.optim.Adam(game.G.parameters(), lr=1e-2)
    batch = {"tokens": torch.zeros(64, game.length, dtype=torch.long)}  # (G's phase reads only its size)
    torch.manual_seed(0)
    for _ in range(30):
        opt.zero_grad(set_to_none=True)
        stats = game.run_phase(G_PHASE, batch)
        assert "loss/G" in stats and "loss/G_mle" not in stats
        opt.step()
        game.after_step(G_PHASE)
    after = share()
    assert before < 0.1 and after > before + 0.2, (before, after)


def test_seqgan_rewards_are_d_of_the_completed_sequences(tmp_path):
    trainer = _seqgan(tmp_path, "game.rollouts=3")
    game = trainer.game
    torch.manual_seed(0)
    tokens = game._sample(10)
    game.D.train()  # rewards read D in eval mode whatever its mode
    torch.manual_seed(1)
    q = game.rewards(tokens)
    assert q.shape == (10, game.length) and ((q >= 0) & (q <= 1)).all()
    assert game.D.training  # (its mode is restored)
    game.D.eval()
    with torch.no_grad():
        full = torch.sigmoid(game.D(tokens))
        torch.testing.assert_close(q[:, -1], full)
        # Q(y_<t, y_t): the mean of D over the rollouts of the prefix (the same random draws)
        torch.manual_seed(1)
        for t, comp in game.R.rollouts(tokens, 3):
            torch.testing.assert_close(q[:, t - 1], torch.sigmoid(game.D(comp)).view(3, 10).mean(0))
    # once a sequence has ended, every completion is the sequence itself: Q is D(y) there
    ended = torch.cumsum((tokens == END).long(), 1) > 0
    assert ended[:, :-1].any()
    torch.testing.assert_close(q[ended], full.unsqueeze(1).expand_as(q)[ended])


def test_seqgan_rollout_network_starts_as_g_and_follows_it_with_delay(tmp_path):
    trainer = _seqgan(tmp_path)
    game, opt = trainer.game, trainer.optimizers["G"]
    R, G = game.R, game.G
    assert all(not p.requires_grad for p in R.parameters())
    assert not {id(p) for p in R.parameters()} & {id(p) for g in opt.param_groups for p in g["params"]}
    with torch.no_grad():
        for p in R.parameters():
            p.add_(1.0)  # R differs from G before the adversarial stage
    game.iterations = game.adversarial_start
    r_at_rewards = []
    rewards = game.rewards
    game.rewards = lambda tokens: (r_at_rewards.append(_params(R)), rewards(tokens))[1]
    batch = {"tokens": torch.zeros(8, game.length, dtype=torch.long)}
    torch.manual_seed(0)
    for step in range(2):
        g_before, r_before = _params(G), _params(R)
        opt.zero_grad(set_to_none=True)
        game.run_phase(G_PHASE, batch)
        opt.step()
        game.after_step(G_PHASE)
        g_after, r_after = _params(G), _params(R)
        assert _changed(g_before, g_after)
        if step == 0:  # R is set to the pre-trained G before the first adversarial rewards
            for r, g in zip(r_at_rewards[0], g_before):
                torch.testing.assert_close(r, g, rtol=0, atol=0)
            r_before = g_before
        for r0, g1, r1 in zip(r_before, g_after, r_after):
            torch.testing.assert_close(r1, 0.8 * r0 + 0.2 * g1)
        assert _changed(r_after, g_after)  # it lags behind G
    assert len(r_at_rewards) == 2


# -- the stages ------------------------------------------------------------------------------------------
def test_stages_train_g_alone_then_d_alone_then_both_at_the_adversarial_lr(tmp_path):
    out = tmp_path / "gumbel"
    trainer = prepare_training("gumbel-names", FAST + TINY + [
        "game.pretrain_steps=2", "game.pretrain_d_steps=2", "train.steps=5", "train.log_every=1",
        "game.adversarial_lr=0.1", "optim.default.lr=3e-3", "optim.d.lr=2e-4"], out=out)
    game = trainer.game
    assert trainer.cfg.train.d_steps == 1 and game.stage == "mle" and game.lr_scale("G") == 1.0
    snapshots = [(_params(game.G), _params(game.D))]
    stages, g_lrs = [], []
    after_step = game.after_step

    def record(phase):
        after_step(phase)
        if phase.name == "G":  # the end of an iteration
            snapshots.append((_params(game.G), _params(game.D)))
            stages.append(game.stage)
            g_lrs.append(trainer.optimizers["G"].param_groups[0]["lr"])

    game.after_step = record
    trainer.fit()
    assert game.iterations == 5
    assert stages == ["mle", "pretrain_d", "pretrain_d", "adversarial", "adversarial"]  # (after each G phase)
    for step, (g_moved, d_moved) in enumerate([(True, False), (True, False), (False, True), (False, True),
                                               (True, True)]):
        (g0, d0), (g1, d1) = snapshots[step], snapshots[step + 1]
        assert _changed(g0, g1) == g_moved and _changed(d0, d1) == d_moved, step
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    for r in rows[:2]:
        assert "loss/G_mle" in r and "loss/G" not in r and "loss/D" not in r, r
    for r in rows[2:4]:
        assert "loss/D" in r and "loss/G" not in r and "loss/G_mle" not in r, r
    assert "loss/G" in rows[4] and "loss/D" in rows[4] and "gumbel/beta" in rows[4] and "loss/G_mle" not in rows[4]
    # G's learning rate: optim lr in the first two stages, game.adversarial_lr times it in the third
    assert g_lrs == pytest.approx([3e-3] * 4 + [3e-4])
    assert game.lr_scale("G") == pytest.approx(0.1) and game.lr_scale("D") == 1.0
    assert trainer.optimizers["G"].param_groups[0]["lr"] == pytest.approx(3e-3 * 0.1)
    assert trainer.optimizers["D"].param_groups[0]["lr"] == pytest.approx(2e-4)


# -- Gumbel's β ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("anneal", ["exp", "linear"])
def test_gumbel_beta_rises_from_1_to_beta_max_over_the_adversarial_stage(tmp_path, anneal):
    # pretrain 2 + 1 iterations, then 8 adversarial ones (train.steps = 11)
    trainer = prepare_training("gumbel-names", FAST + TINY + [
        "game.pretrain_steps=2", "game.pretrain_d_steps=1", "train.steps=11", "game.beta_max=100",
        f"game.anneal={anneal}"], out=tmp_path / "a")
    game = trainer.game
    assert game.adversarial_start == 3 and game.anneal_steps == 8

    def beta(iterations):
        game.iterations = iterations
        assert game.tau() == pytest.approx(1 / game.beta())
        return game.beta()

    assert beta(0) == beta(3) == pytest.approx(1.0)
    assert beta(11) == pytest.approx(100.0) and beta(30) == pytest.approx(100.0)
    mid = 10.0 if anneal == "exp" else 50.5  # sqrt(beta_max), or half-way
    assert beta(7) == pytest.approx(mid)
    assert 1.0 < beta(4) < beta(5) < mid < beta(9) < beta(10) < 100.0
    if anneal == "exp":  # a constant ratio per iteration
        assert beta(5) / beta(4) == pytest.approx(beta(10) / beta(9))
    # game.anneal_steps: β_max after that many adversarial iterations, and there it stays
    short = prepare_training("gumbel-names", FAST + TINY + [
        "game.pretrain_steps=2", "game.pretrain_d_steps=1", "train.steps=11", "game.beta_max=100",
        f"game.anneal={anneal}", "game.anneal_steps=4"], out=tmp_path / "b").game
    short.iterations = 5
    assert short.beta() == pytest.approx(mid)
    short.iterations = 7
    assert short.beta() == pytest.approx(100.0)
    short.iterations = 9
    assert short.beta() == pytest.approx(100.0)


# -- config errors and the temperature sweep -----------------------------------------------------------
@pytest.mark.parametrize("preset, override, key", [
    ("seqgan-names", "loss.name=hinge", "loss.name"),
    ("seqgan-names", "model.d.name=dcgan", "model.d.name"),
    ("gumbel-names", "model.d.name=dcgan", "model.d.name"),
    ("seqgan-names", "game.rollouts=0", "game.rollouts"),
    ("seqgan-names", "game.adversarial_lr=0", "game.adversarial_lr"),
    ("wgan-gp-names", "game.adversarial_lr=0", "game.adversarial_lr"),
])
def test_sequence_gan_config_errors_name_their_key(tmp_path, preset, override, key):
    with pytest.raises(ConfigError) as e:
        prepare_training(preset, FAST + TINY + [override], out=tmp_path / "r")
    assert str(e.value).startswith(f"{key}:") and "\n" not in str(e.value), str(e.value)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_evaluate_run_sweeps_temperatures_of_a_sequence_run_and_refuses_an_image_run(tmp_path):
    run = tmp_path / "names"
    train("seqgan-names", FAST + TINY + ["train.steps=3", "game.rollouts=2"], out=run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (too few samples for the recommendations)
        sweep = evaluate_run(run, n=60, temperature=[0.7, 1.0])  # (the preset's metrics)
        cold = evaluate_run(run, metrics=["self_bleu"], n=60, temperature=0.7)
        plain = evaluate_run(run, metrics=["heldout_nll", "self_bleu", "bleu"], n=60, temperature=1.0)
    s = sweep.scores
    for name in ("self_bleu", "bleu", "novelty", "validity", "ngram_jsd"):  # from the samples: once per temperature
        assert f"{name} @T=0.7" in s and f"{name} @T=1" in s and name not in s, name
    for name in ("self_bleu_real", "bleu_real", "heldout_nll", "ngram_jsd_floor"):  # not from the samples: once
        assert name in s and not any(k.startswith(f"{name} @") for k in s), name
    assert s["self_bleu @T=0.7"] == pytest.approx(cold.scores["self_bleu"])
    assert s["self_bleu @T=1"] == pytest.approx(plain.scores["self_bleu"])
    assert s["self_bleu @T=0.7"] != s["self_bleu @T=1"]
    assert s["bleu @T=1"] == pytest.approx(plain.scores["bleu"])
    for name in ("heldout_nll", "self_bleu_real", "bleu_real"):
        assert s[name] == pytest.approx(plain.scores[name]), name
    assert any("temperature sweep" in note for note in sweep.notes)
    image = tmp_path / "digits"
    train("gan-digits", FAST + ["train.steps=2", "model.g.width=8", "model.d.width=8"], out=image)
    with pytest.raises(GankitError, match="sequence runs"):
        evaluate_run(image, temperature=0.7)
