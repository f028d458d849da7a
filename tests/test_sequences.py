"""Token sequences: the vocabulary, the token sources, the oracle, the LSTM generator, the mle game,
the sequence metrics and the text interface of `gankit sample` (docs/sequences.md)."""
from __future__ import annotations

import math

import pytest
import torch

from gankit.api import load_run, prepare_training, sample_text, train
from gankit.cli import main
from gankit.config import DataConfig
from gankit.data import load_data, load_heldout
from gankit.data.sources import describe_sources
from gankit.data.tokens import END, PAD, Vocabulary, make_oracle, oracle_sequences
from gankit.errors import DataError, GankitError
from gankit.metrics.sequences import id_lists, jensen_shannon, ngram_counts, ngram_jsd, novelty, validity
from gankit.nets.sequence import LSTMGenerator, mean_token_nll

FAST = ["train.progress=false", "train.tensorboard=false", "train.log_every=10", "train.sample_every=0",
        "train.checkpoint_every=0"]
TINY = ["model.g.hidden=32", "model.g.embedding=16", "train.batch_size=32", "optim.default.lr=1e-2"]


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seq") / "names"
    train("mle-names", FAST + TINY + ["train.steps=60"], out=out)
    return out


# -- the vocabulary ----------------------------------------------------------------------------------
def test_vocabulary_round_trips_lines_and_its_saved_state():
    lines = ["anna", "bob", "", "zoë"]
    v = Vocabulary.build(lines, "char", max_length=5)
    assert v.symbols == ("a", "b", "n", "o", "z", "ë") and v.size == 2 + 6 and v.length == 6
    tokens = v.encode_batch(lines)
    assert tokens.tolist()[0] == [2, 4, 4, 2, END, PAD] and tokens.tolist()[2] == [END, PAD, PAD, PAD, PAD, PAD]
    assert v.decode_batch(tokens) == lines
    assert Vocabulary.from_state(v.to_state()) == v
    with pytest.raises(DataError, match="'x' is not in the vocabulary"):
        v.encode("xan")
    words = Vocabulary.build(["the cat sat", "the dog"], "word", max_length=3)
    assert words.symbols == ("cat", "dog", "sat", "the")
    assert words.decode_batch(words.encode_batch(["the cat", "dog sat the"])) == ["the cat", "dog sat the"]
    assert v.decode([4, END, 2, 2]) == "n"  # everything after the end id is ignored


def test_names_splits_are_disjoint_and_share_the_training_vocabulary():
    tr, te = load_data(DataConfig(name="names")), load_heldout(DataConfig(name="names"))
    assert len(tr) + len(te) == 5163 and len(te) == round(5163 * 0.1)
    assert not set(tr.texts) & set(te.texts) and tr.vocabulary == te.vocabulary
    assert tr.vocabulary.symbols == tuple("abcdefghijklmnopqrstuvwxyz")
    assert tr.batch(torch.arange(4))["tokens"].shape == (4, tr.vocabulary.length)
    assert tr.vocabulary.decode_batch(tr.tokens[:3]) == tr.texts[:3]


def test_datasets_lists_the_token_sources():
    rows = {name: status for name, status, *_ in describe_sources()}
    assert rows["text"] == "your data" and rows["names"] == "available" and rows["oracle"] == "available"
    assert rows["words"] == "available"


# -- the oracle ---------------------------------------------------------------------------------------
def test_the_oracle_is_deterministic_by_seed_and_prefers_its_own_samples():
    a, b, c = (make_oracle(vocab=60, length=8, hidden=16, seed=s) for s in (3, 3, 4))
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    x = oracle_sequences(a, 400, seed=1)
    torch.testing.assert_close(x, oracle_sequences(b, 400, seed=1), rtol=0, atol=0)
    assert not torch.equal(x, oracle_sequences(c, 400, seed=1))
    assert x.shape == (400, 8) and x.min() >= 0 and x.max() < 60
    own = mean_token_nll(a, x)
    uniform = mean_token_nll(a, torch.randint(60, (400, 8), generator=torch.Generator().manual_seed(0)))
    # N(0, 1) weights make the oracle peaked: its own samples are far likelier than uniform ones
    assert own < math.log(60) < uniform and uniform - own > 2.0


# -- the generator --------------------------------------------------------------------------------------
def test_sampling_is_deterministic_and_approaches_greedy_as_the_temperature_falls():
    torch.manual_seed(0)
    G = LSTMGenerator(12, 7, embedding=8, hidden=16, pad=0, end=1).eval()
    u = torch.rand(200, 7, generator=torch.Generator().manual_seed(5))
    greedy = G.sample(u, 0.0)
    assert torch.equal(G.sample(u, 1.0), G.sample(u, 1.0))
    assert torch.equal(G.sample(u, 1e-4), greedy)  # a tiny temperature puts all mass on the argmax
    assert (greedy == greedy[0]).all()  # greedy decoding ignores u: one sequence
    hot = G.sample(u, 1.0)
    assert len({tuple(r) for r in hot.tolist()}) > 50
    for row in hot.tolist():  # never padding before the end id; the end id ends every sequence; then padding
        k = row.index(END)
        assert PAD not in row[:k] and all(t == PAD for t in row[k + 1:])


def test_token_log_likelihood_is_the_teacher_forced_sum_over_scored_positions():
    torch.manual_seed(1)
    G = LSTMGenerator(6, 4, embedding=4, hidden=8, pad=0, end=1).eval()
    x = torch.tensor([[2, 3, 1, 0], [5, 5, 4, 1]])
    ll, n = G.token_log_likelihood(x)
    lp = torch.log_softmax(G(x), -1)
    expect = [lp[0, 0, 2] + lp[0, 1, 3] + lp[0, 2, 1], lp[1, 0, 5] + lp[1, 1, 5] + lp[1, 2, 4] + lp[1, 3, 1]]
    torch.testing.assert_close(ll, torch.stack(expect))
    assert n.tolist() == [3, 4]
    assert torch.isinf(G(x)[..., PAD]).all()  # padding is never a prediction


# -- the mle game --------------------------------------------------------------------------------------
def test_mle_lowers_the_heldout_nll_of_names_within_a_few_dozen_steps(tmp_path):
    trainer = prepare_training("mle-names", FAST + TINY + ["train.steps=40"], out=tmp_path / "run")
    held = load_heldout(trainer.cfg.data).tokens
    before = mean_token_nll(trainer.game.G, held)
    trainer.fit()
    after = mean_token_nll(trainer.game.G, held)
    assert abs(before - math.log(27)) < 0.3  # untrained: about uniform over 26 letters and the end
    assert after < before - 0.8, (before, after)


def test_a_run_samples_text_without_its_corpus(names_run, tmp_path, capsys, monkeypatch):
    import gankit.data.tokens as tokens

    monkeypatch.setattr(tokens, "_names_files", lambda: (_ for _ in ()).throw(AssertionError("corpus read")))
    a = sample_text(names_run, 20, seed=3)
    assert a == sample_text(names_run, 20, seed=3) and a != sample_text(names_run, 20, seed=4)
    assert len(a) == 20 and all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") and len(s) <= 11 for s in a)
    assert len(set(sample_text(names_run, 10, seed=3, temperature=0))) == 1  # greedy: one name
    assert main(["sample", str(names_run), "--n", "7", "--seed", "3", "--out", str(tmp_path / "s.txt")]) == 0
    assert (tmp_path / "s.txt").read_text().splitlines() == a[:7]
    capsys.readouterr()
    assert main(["sample", str(names_run), "--n", "4", "--seed", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == a[:4]
    assert main(["sample", str(names_run), "--out", str(tmp_path / "x.png")]) == 2
    assert "--out FILE.txt" in capsys.readouterr().err
    assert (names_run / "samples" / "final.txt").is_file()


def test_eval_scores_a_names_run_with_the_sequence_metrics_only(names_run):
    from gankit.api import evaluate_run

    res = evaluate_run(names_run, n=1000)
    assert {"heldout_nll", "ngram_jsd", "ngram_jsd_floor", "novelty", "validity", "in_corpus"} <= set(res.scores)
    assert not any(k.startswith(("fid", "kid", "precision", "oracle")) for k in res.scores)
    run = load_run(names_run)
    held = load_heldout(run.cfg.data).tokens
    assert res.scores["heldout_nll"] == pytest.approx(mean_token_nll(run.game.G, held), rel=1e-6)
    assert 0 <= res.scores["validity"] <= res.scores["in_corpus"] <= 1
    with pytest.raises(GankitError, match="fid: not defined for token sequences"):
        evaluate_run(names_run, metrics=["fid"], n=10)
    with pytest.raises(GankitError, match="oracle_nll: defined for the oracle task only"):
        evaluate_run(names_run, metrics=["oracle_nll"], n=10)


# -- the metrics ----------------------------------------------------------------------------------------
def test_jensen_shannon_by_hand():
    from collections import Counter

    assert jensen_shannon(Counter("aab"), Counter("aab")) == 0
    assert jensen_shannon(Counter("a"), Counter("b")) == 1
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4)
    expect = 0.5 * math.log2(1 / 0.75) + 0.5 * (0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25))
    assert jensen_shannon(Counter("a"), Counter("ab")) == pytest.approx(expect)
    assert ngram_counts([[5, 6, 1]], 2) == Counter({(-1, 5): 1, (5, 6): 1, (6, 1): 1})


def test_ngram_jsd_of_real_splits_is_small_and_of_random_strings_large():
    tr, te = load_data(DataConfig(name="names")), load_heldout(DataConfig(name="names"))
    v = tr.vocabulary
    held = id_lists(te.tokens, v)
    g = torch.Generator().manual_seed(0)
    real = ngram_jsd(id_lists(tr.tokens[torch.randperm(len(tr), generator=g)[:500]], v), held)  # (sorted by name)
    rand = ["".join(v.symbols[i] for i in torch.randint(26, (int(k),), generator=g))
            for k in torch.randint(3, 9, (500,), generator=g)]
    noise = ngram_jsd(id_lists(v.encode_batch(rand), v), held)
    assert real[1] < 0.01 and sum(real.values()) / 4 < 0.25
    assert noise[1] > 0.1 and sum(noise.values()) / 4 > 0.5
    # (4-grams of 500 names are sparse: even real data sits near 0.56 there, hence ngram_jsd_floor)
    assert all(noise[n] > real[n] + 0.1 for n in (1, 2, 3, 4))


def test_novelty_and_validity_by_hand():
    assert novelty(["ann", "bob", "zed", "ann"], ["ann", "bob"]) == 0.25
    assert novelty([], ["ann"]) == 0
    assert validity(["ann", "zed", "xx"], ["zed", "ann"]) == pytest.approx(2 / 3)


# -- bad input ----------------------------------------------------------------------------------------
def _text(tmp_path, body: bytes):
    p = tmp_path / "corpus.txt"
    p.write_bytes(body)
    return DataConfig(name="text", path=str(p))


def test_text_source_reads_lines_and_holds_some_out(tmp_path):
    cfg = _text(tmp_path, "\ufeffhello\r\nworld\n\n  wide  \n".encode() + b"\n".join(b"line%d" % i for i in range(17)))
    tr, te = load_data(cfg), load_heldout(cfg)
    assert len(tr) + len(te) == 20 and len(te) == 2 and "hello" in tr.texts + te.texts
    assert "wide" in tr.texts + te.texts  # lines are stripped, blank ones skipped, a BOM dropped


def test_bad_text_corpora_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(DataError, match="holds no sequences"):
        load_data(_text(tmp_path, b"\n  \n"))
    with pytest.raises(DataError, match=r"not UTF-8 text \(byte 0xe9 on line 2\)"):
        load_data(_text(tmp_path, b"ok\ncaf\xe9\n"))
    with pytest.raises(DataError, match="set data.path"):
        load_data(DataConfig(name="text"))
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    code = main(["train", "mle-names", "--out", str(tmp_path / "r"), "--set", "data.name=text",
                 "--set", f"data.path={tmp_path / 'latin.txt'}"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not UTF-8" in err


def test_over_long_lines_are_truncated_with_a_count(tmp_path):
    cfg = _text(tmp_path, b"\n".join([b"abcdefgh", b"abc", b"abcdefghij"] + [b"ab"] * 20))
    cfg.max_length = 5
    with pytest.warns(UserWarning, match=r"2 of 23 lines are longer than data.max_length=5 \(the longest has 10\)"):
        data = load_data(cfg)
    assert data.vocabulary.length == 6 and max(map(len, data.texts)) <= 5


def test_an_image_game_on_tokens_and_mle_on_images_are_refused(tmp_path):
    from gankit.errors import ConfigError

    with pytest.raises(ConfigError, match="learns token sequences"):
        prepare_training("mle-names", FAST + ["data.name=digits"], out=tmp_path / "a")
    with pytest.raises(ConfigError, match="model.g.name"):
        prepare_training("mle-names", FAST + ["model.g.name=dcgan"], out=tmp_path / "b")
    with pytest.raises(ConfigError):
        prepare_training("gan-digits", FAST + ["data.name=names"], out=tmp_path / "c")


# -- every sequence metric's sample counts -------------------------------------------------------------
def test_every_sequence_metric_declares_its_counts_and_evaluate_keeps_them(names_run):
    """Below a token metric's minimum: asked by name, one line naming it and the counts; by default, skipped
    with a note. Below its recommendation: one SampleCountWarning naming it."""
    from gankit.metrics.evaluate import SampleCountWarning
    from gankit.metrics.registry import METRICS
    from gankit.metrics.sequences import evaluate_sequences, token_metrics

    run = load_run(names_run)
    names = token_metrics(True)
    assert {"oracle_nll", "heldout_nll", "ngram_jsd", "novelty", "validity", "bleu", "self_bleu"} <= set(names)
    for name in names:
        metric = METRICS.get(name)
        low, rec = metric.minimum(), metric.recommended_for()
        doc = metric.compute.__doc__ or ""
        assert isinstance(low, int) and rec >= low and ("Minimum" in doc or "No sample count" in doc), name
        if name == "oracle_nll" or low < 2:  # (oracle task only; a minimum of 1 has no smaller count to refuse)
            continue
        with pytest.raises(GankitError) as e:
            evaluate_sequences(run.game, run.players, run.cfg, [name], low - 1)
        msg = str(e.value)
        assert msg.startswith(f"{name}: {low - 1} sample") and f"at least {low}" in msg and "\n" not in msg, msg
        with pytest.warns(SampleCountWarning):  # (the other metrics run on those few samples)
            res = evaluate_sequences(run.game, run.players, run.cfg, None, low - 1)
        assert any(note.startswith(f"{name} skipped") for note in res.notes)
    with pytest.warns(SampleCountWarning, match="self_bleu from 10 samples"):
        evaluate_sequences(run.game, run.players, run.cfg, ["self_bleu"], 10)
