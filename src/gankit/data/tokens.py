"""Token sequences: a vocabulary, a dataset of named batches ``{"tokens": (B, L) int64}``, and the
sources ``text`` (a user's UTF-8 file, one sequence per line), ``names`` (first names), ``words``
(English words) and ``oracle`` (the synthetic task of SeqGAN, Yu et al. 2017).

Ids: with a variable-length vocabulary (every source but the oracle) id 0 is padding and id 1 ends
a sequence; symbols (characters, or words with ``data.level=word``) follow from id 2, in sorted
order, built from the training split alone. A sequence of up to ``max_length`` symbols is stored in
``L = max_length + 1`` positions: its symbols, the end id, then padding. The oracle's vocabulary is
its 5,000 ids and nothing else; its sequences have exactly 20.

Held-out split (``data.split=test``): a fixed 10% of the lines (a seeded permutation of the corpus),
never of the vocabulary: held-out lines with symbols the training split lacks are dropped with a
warning that counts them. The vocabulary travels with a run (the game's checkpointed state), so
sampling decodes without the corpus.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Sequence

import torch

from ..config import DataConfig
from ..errors import DataError
from .sources import SOURCES, Source

PAD, END = 0, 1
HELDOUT_FRACTION = 0.1
SPLIT_SEED = 20_170_204  # the permutation that chooses the held-out lines (fixed: splits never move)


@dataclass(frozen=True)
class Vocabulary:
    """Symbols and the layout of sequences. ``symbols[i]`` has id ``offset + i``; ``level``: ``char``
    (decoded by concatenation), ``word`` (joined by spaces) or ``id`` (the oracle: symbols are the ids
    themselves, written as numbers); ``ended``: ids 0 (padding) and 1 (end) exist, sequences vary in
    length up to ``max_length`` symbols."""

    symbols: tuple[str, ...]
    level: Literal["char", "word", "id"]
    max_length: int
    ended: bool = True

    @property
    def offset(self) -> int:
        return 2 if self.ended else 0

    @property
    def size(self) -> int:
        """Number of ids, padding and end included."""
        return self.offset + len(self.symbols)

    @property
    def length(self) -> int:
        """Positions per sequence: room for the end id after ``max_length`` symbols."""
        return self.max_length + (1 if self.ended else 0)

    @property
    def pad(self) -> int | None:
        return PAD if self.ended else None

    @property
    def end(self) -> int | None:
        return END if self.ended else None

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {s: i + self.offset for i, s in enumerate(self.symbols)}

    def split(self, text: str) -> list[str]:
        """A line as its symbols."""
        return list(text) if self.level == "char" else text.split()

    def join(self, symbols: Sequence[str]) -> str:
        return ("" if self.level == "char" else " ").join(symbols)

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``'s symbols (no end id); a DataError names the first unknown symbol."""
        try:
            return [self._index[s] for s in self.split(text)]
        except KeyError as e:
            raise DataError(f"{e.args[0]!r} is not in the vocabulary ({len(self.symbols)} symbols of the training "
                            f"split)") from None

    def encode_batch(self, lines: Sequence[str]) -> torch.Tensor:
        """(N, length) int64: each line's ids, the end id, padding (lines must fit ``max_length``)."""
        out = torch.full((len(lines), self.length), PAD, dtype=torch.long)
        for i, line in enumerate(lines):
            ids = self.encode(line)
            if len(ids) > self.max_length:
                raise DataError(f"a sequence of {len(ids)} symbols does not fit max_length={self.max_length}")
            if self.ended:
                ids = ids + [END]
            elif len(ids) != self.length:
                raise DataError(f"fixed-length sequences have {self.length} symbols, not {len(ids)}")
            out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of one sequence of ids: its symbols up to the first end id (padding skipped)."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if self.ended and i == END:
                break
            if self.ended and i == PAD:
                continue
            if not self.offset <= i < self.size:
                raise DataError(f"id {i} is outside the vocabulary (0..{self.size - 1})")
            out.append(self.symbols[i - self.offset])
        return self.join(out)

    def decode_batch(self, tokens: torch.Tensor) -> list[str]:
        return [self.decode(row) for row in tokens.cpu()]

    # -- saved with a run (plain lists: a weights-only checkpoint loads them) --------------------
    def to_state(self) -> dict:
        return {"symbols": list(self.symbols), "level": self.level, "max_length": self.max_length,
                "ended": self.ended}

    @classmethod
    def from_state(cls, state: dict) -> "Vocabulary":
        return cls(tuple(state["symbols"]), state["level"], int(state["max_length"]), bool(state["ended"]))

    @classmethod
    def build(cls, lines: Sequence[str], level: Literal["char", "word"], max_length: int) -> "Vocabulary":
        """The sorted symbols of ``lines``."""
        symbols: set[str] = set()
        probe = cls((), level, max_length)
        for line in lines:
            symbols.update(probe.split(line))
        return cls(tuple(sorted(symbols)), level, max_length)


@dataclass
class TokenData:
    """Sequences held as ids: ``tokens`` (N, L) int64 under ``vocabulary``; ``texts`` the N lines they
    encode (decoded, truncated as stored); ``lexicon``: every line is one valid item (a name, a word), so
    a sample can be checked against the corpus (the validity metric)."""

    name: str
    tokens: torch.Tensor
    vocabulary: Vocabulary
    texts: list[str] = field(default_factory=list)
    lexicon: bool = False

    def __post_init__(self):
        t = self.tokens
        if t.dtype != torch.long or t.dim() != 2 or t.shape[1] != self.vocabulary.length:
            raise ValueError(f"TokenData wants int64 (N, {self.vocabulary.length}), got {t.dtype} {tuple(t.shape)}")
        if self.texts and len(self.texts) != len(t):
            raise ValueError("texts and tokens differ in length")

    def __len__(self) -> int:
        return self.tokens.shape[0]

    @property
    def shape(self) -> tuple[int]:
        return (self.vocabulary.length,)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {"tokens": self.shape}

    @property
    def streams(self) -> dict[str, int]:
        return {"data": len(self)}

    @property
    def num_classes(self) -> None:
        return None

    def describe(self) -> str:
        unit = {"char": "characters", "word": "words", "id": "ids"}[self.vocabulary.level]
        return (f"{len(self):,} sequences of up to {self.vocabulary.max_length} {unit}, "
                f"vocabulary of {self.vocabulary.size:,} ids")

    def to(self, device) -> "TokenData":
        return replace(self, tokens=self.tokens.to(device))

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"tokens": self.tokens.index_select(0, idx.to(self.tokens.device))}

    def take(self, indices: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.batch(indices["data"])

    def subset(self, idx: torch.Tensor) -> "TokenData":
        idx = torch.as_tensor(idx).long().reshape(-1)
        texts = [self.texts[i] for i in idx.tolist()] if self.texts else []
        return replace(self, tokens=self.tokens[idx], texts=texts)


# ----------------------------------------------------------------------------------------------
# From lines of text to TokenData
# ----------------------------------------------------------------------------------------------

def heldout_mask(n: int) -> torch.Tensor:
    """(n,) bool: the held-out lines, a fixed 10% (at least one line when n >= 2, none when n < 2)."""
    k = 0 if n < 2 else max(1, round(n * HELDOUT_FRACTION))
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))[:k]] = True
    return mask


def tokens_from_lines(name: str, lines: list[str], cfg: DataConfig, level: Literal["char", "word"] = "char",
                      lexicon: bool = False, what: str = "") -> TokenData:
    """The ``cfg.split`` of ``lines`` as TokenData; the vocabulary from the training lines (all lines for
    ``split=all``). ``what`` names the corpus in messages."""
    what = what or name
    if not lines:
        raise DataError(f"{what} holds no sequences (every line is empty)")
    probe = Vocabulary((), level, 0)
    longest = max(len(probe.split(line)) for line in lines)
    max_length = cfg.max_length or longest
    if longest > max_length:
        long = sum(len(probe.split(line)) > max_length for line in lines)
        warnings.warn(f"{what}: {long:,} of {len(lines):,} lines are longer than data.max_length={max_length} "
                      f"(the longest has {longest}); they are truncated to {max_length} symbols", stacklevel=3)
        lines = [probe.join(probe.split(line)[:max_length]) for line in lines]
    test = heldout_mask(len(lines))
    train_lines = [line for line, t in zip(lines, test.tolist()) if not t]
    vocab = Vocabulary.build(train_lines if cfg.split != "all" else lines, level, max_length)
    if cfg.split == "train":
        chosen = train_lines
    elif cfg.split == "test":
        chosen = [line for line, t in zip(lines, test.tolist()) if t]
        if not chosen:
            raise DataError(f"{what}: {len(lines)} line(s) leave nothing to hold out (data.split=test)")
        known = set(vocab.symbols)
        kept = [line for line in chosen if set(probe.split(line)) <= known]
        if len(kept) < len(chosen):
            warnings.warn(f"{what}: {len(chosen) - len(kept):,} of {len(chosen):,} held-out lines have symbols "
                          f"the training split lacks; they are left out of the held-out split", stacklevel=3)
        chosen = kept
        if not chosen:
            raise DataError(f"{what}: every held-out line has symbols the training split lacks")
    else:
        chosen = lines
    return TokenData(name, vocab.encode_batch(chosen), vocab, list(chosen), lexicon)


def read_lines(path: str | Path, what: str) -> list[str]:
    """The non-empty lines of a UTF-8 text file (a BOM and line ends stripped), or a one-line DataError."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{what}: data.path {str(path)!r} is not a file")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{what}: {str(path)!r} is not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); "
                        f"convert it first, e.g. iconv -f latin1 -t utf-8") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


# ----------------------------------------------------------------------------------------------
# The sources
# ----------------------------------------------------------------------------------------------

def _register(name: str, description: str, locate):
    def deco(load):
        SOURCES.register(name)(Source(name, description, load, locate, sides=("tokens",), kind="tokens"))
        return load
    return deco


def _locate_text(cfg: DataConfig) -> str:
    if not cfg.path:
        raise DataError("text: set data.path to a UTF-8 text file with one sequence per line")
    p = Path(cfg.path).expanduser()
    if not p.is_file():
        raise DataError(f"text: data.path {cfg.path!r} is not a file")
    return str(p)


@_register("text", "your corpus: a UTF-8 text file (data.path), one sequence per line, tokens of one character "
           "(or one word with data.level=word); 10% of the lines held out", _locate_text)
def _load_text(cfg: DataConfig) -> TokenData:
    path = _locate_text(cfg)
    return tokens_from_lines("text", read_lines(path, "text"), cfg, cfg.level, what=f"text: {path!r}")


def _names_files() -> list[Path]:
    import importlib.util

    spec = importlib.util.find_spec("names")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("names: needs the names package, which ships the 1990 US census first names; install it "
                        "with `pip install names`")
    folder = Path(list(spec.submodule_search_locations)[0])
    files = [folder / "dist.female.first", folder / "dist.male.first"]
    if not all(f.is_file() for f in files):
        raise DataError(f"names: {str(folder)!r} lacks dist.female.first / dist.male.first; reinstall names")
    return files


def _locate_names(cfg: DataConfig) -> str:
    return ", ".join(map(str, _names_files()))


@_register("names", "first names of the 1990 US census (the names package): 5,163 distinct names in lower case, "
           "one sequence of characters each (frequencies not used); 10% held out", _locate_names)
def _load_names(cfg: DataConfig) -> TokenData:
    names: set[str] = set()
    for f in _names_files():
        for line in f.read_text(encoding="ascii").splitlines():
            if line.split():
                names.add(line.split()[0].lower())
    if cfg.level != "char":
        raise DataError("names: its sequences are characters (data.level=char)")
    return tokens_from_lines("names", sorted(names), cfg, "char", lexicon=True)


def _words_list() -> list[str]:
    try:
        from english_words import get_english_words_set
    except ImportError:
        raise DataError("words: needs the english-words package; install it with `pip install english-words`") from None
    return sorted(get_english_words_set(["web2"], lower=True, alpha=True))


def _locate_words(cfg: DataConfig) -> str:
    import importlib.util

    if importlib.util.find_spec("english_words") is None:
        raise DataError("words: needs the english-words package; install it with `pip install english-words`")
    return "the english-words package (web2 list, lower case, letters only)"


@_register("words", "English words (the english-words package's web2 list, lower case, letters only; 234,450 "
           "words; data.max_length keeps those of at most that many letters); 10% held out", _locate_words)
def _load_words(cfg: DataConfig) -> TokenData:
    if cfg.level != "char":
        raise DataError("words: its sequences are characters (data.level=char)")
    words = _words_list()
    if cfg.max_length:  # a truncated word is no word: keep the short ones instead of truncating
        words = [w for w in words if len(w) <= cfg.max_length]
    return tokens_from_lines("words", words, cfg, "char", lexicon=True)


# ----------------------------------------------------------------------------------------------
# The oracle (Yu et al. 2017, section "Synthetic data experiments")
# ----------------------------------------------------------------------------------------------

ORACLE_VOCAB, ORACLE_LENGTH, ORACLE_HIDDEN, ORACLE_SEED = 5000, 20, 32, 0
ORACLE_SIZES = {"train": 10_000, "test": 5_000}


def make_oracle(vocab: int = ORACLE_VOCAB, length: int = ORACLE_LENGTH, hidden: int = ORACLE_HIDDEN,
                seed: int = ORACLE_SEED):
    """The oracle: a randomly initialised LSTM (embedding and hidden ``hidden``, every parameter drawn
    from N(0, 1) with ``seed``) over ``vocab`` ids and sequences of exactly ``length``. It both generates
    the data and scores samples by its own negative log-likelihood."""
    from ..nets.sequence import LSTMGenerator

    oracle = LSTMGenerator(vocab, length, embedding=hidden, hidden=hidden, pad=None, end=None)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in oracle.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return oracle.eval().requires_grad_(False)


def oracle_sequences(oracle, n: int, seed: int, batch_size: int = 1000) -> torch.Tensor:
    """``n`` sequences (n, length) drawn from ``oracle`` at temperature 1, from uniforms of ``seed``."""
    u = torch.rand(n, oracle.length, generator=torch.Generator().manual_seed(seed))
    return torch.cat([oracle.sample(u[s:s + batch_size]) for s in range(0, n, batch_size)])


@functools.lru_cache(maxsize=2)
def _oracle_split(split: str) -> torch.Tensor:
    """The oracle task's fixed sequences of a split (cached on disk: drawing 10,000 takes seconds)."""
    from ..utils.cache import cache_dir

    n = ORACLE_SIZES[split]
    seed = {"train": 1, "test": 2}[split]
    path = cache_dir("oracle") / f"v{ORACLE_VOCAB}-l{ORACLE_LENGTH}-h{ORACLE_HIDDEN}-s{ORACLE_SEED}-{split}{n}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception:
            pass  # torn or stale: draw again
    tokens = oracle_sequences(make_oracle(), n, seed)
    from ..train.checkpoint import save_checkpoint

    save_checkpoint(tokens, path)
    return tokens


def oracle_vocabulary() -> Vocabulary:
    return Vocabulary(tuple(str(i) for i in range(ORACLE_VOCAB)), "id", ORACLE_LENGTH, ended=False)


def _locate_oracle(cfg: DataConfig) -> str:
    return (f"generated: a seeded random LSTM ({ORACLE_VOCAB:,} ids, length {ORACLE_LENGTH}, hidden {ORACLE_HIDDEN}); "
            f"{ORACLE_SIZES['train']:,} train / {ORACLE_SIZES['test']:,} test sequences")


@_register("oracle", "SeqGAN's synthetic task (Yu et al. 2017): 10,000 sequences of 20 ids (vocabulary 5,000) "
           "drawn from a random LSTM with N(0, 1) parameters, which also scores samples (oracle_nll); "
           "5,000 more held out", _locate_oracle)
def _load_oracle(cfg: DataConfig) -> TokenData:
    if cfg.max_length not in (0, ORACLE_LENGTH):
        raise DataError(f"oracle: its sequences have {ORACLE_LENGTH} ids; leave data.max_length at 0")
    parts = ["train", "test"] if cfg.split == "all" else [cfg.split]
    tokens = torch.cat([_oracle_split(p) for p in parts])
    vocab = oracle_vocabulary()
    return TokenData("oracle", tokens, vocab, [" ".join(map(str, row)) for row in tokens.tolist()])
