"""GPT-2's byte-level BPE in plain Python (no `regex`, no `transformers`): the reference the
TypeScript tokenizer is checked against (spec/fixtures/gpt2-tiny*/golden.json).

1. Pre-tokenization: GPT-2's pattern

       's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

   applied left to right, first alternative that matches at each position. It is written
   out by hand below (`pretokenize`) because the `regex` module is not a dependency here:
   \\p{L} is a Unicode category L*, \\p{N} a category N*, \\s is str.isspace() less
   U+001C..U+001F (as the `regex` module has it; checked on 200,000 random strings). The
   contractions are lower-case only, as in GPT-2. `\\s+(?!\\S)` leaves the last space of a
   run for the next word (" world"), unless the run ends the text.
2. Each piece's UTF-8 bytes are mapped to printable characters (`bytes_to_unicode`).
3. BPE: repeatedly merge the adjacent pair with the lowest merge rank, all its
   non-overlapping occurrences left to right, until no pair has a rank.
4. Tokens to ids through vocab.json.

`train_bpe` learns merges from a text (most frequent pair first, ties broken by the pair's
strings, a merge whose result is already a token skipped) to make a tiny tokenizer.
"""

import json
import unicodedata
from collections import Counter

CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
ENDOFTEXT = "<|endoftext|>"


def bytes_to_unicode():
    """GPT-2's byte -> printable character table, in GPT-2's order: the printable bytes
    ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves, the other 68 bytes to chr(256 + n).
    The order of this dict is the order of the 256 byte tokens' ids."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _letter(c):
    return unicodedata.category(c)[0] == "L"


def _number(c):
    return unicodedata.category(c)[0] == "N"


def _space(c):
    # The `regex` module's \s (what GPT-2 and HF's GPT2Tokenizer use) is str.isspace()
    # less U+001C..U+001F. JavaScript's \s differs again: it lacks U+0085, has U+FEFF.
    return c.isspace() and c not in "\x1c\x1d\x1e\x1f"


def _other(c):
    return not (_space(c) or _letter(c) or _number(c))


def pretokenize(text):
    """Split text as GPT-2's regex does (see the module doc)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        # 's 't 're 've 'm 'll 'd
        if c == "'":
            m = next((k for k in CONTRACTIONS if text.startswith(k, i)), None)
            if m is not None:
                out.append(m)
                i += len(m)
                continue
        # ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional single space, then a run
        start = i + 1 if c == " " and i + 1 < n else i
        matched = False
        for cls in (_letter, _number, _other):
            k = start
            while k < n and cls(text[k]):
                k += 1
            if k > start:
                out.append(text[i:k])
                i = k
                matched = True
                break
        if matched:
            continue
        # '\s+(?!\S)' then '\s+': c is whitespace here
        k = i
        while k < n and _space(text[k]):
            k += 1
        if k == n or k - i == 1:
            out.append(text[i:k])
            i = k
        else:
            out.append(text[i : k - 1])
            i = k - 1
    return out


class GPT2Tokenizer:
    def __init__(self, encoder, merges):
        """encoder: token string -> id; merges: list of (a, b) in rank order."""
        self.encoder = dict(encoder)
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.cache = {}

    @classmethod
    def from_files(cls, vocab_path, merges_path):
        with open(vocab_path, encoding="utf-8") as f:
            encoder = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split(" ")) for l in lines[1:] if l and not l.startswith("#version")]
        return cls(encoder, merges)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = [(word[j], word[j + 1]) for j in range(len(word) - 1)]
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            a, b = best
            new = []
            j = 0
            while j < len(word):
                if j < len(word) - 1 and word[j] == a and word[j + 1] == b:
                    new.append(a + b)
                    j += 2
                else:
                    new.append(word[j])
                    j += 1
            word = new
        self.cache[token] = word
        return word

    def tokenize(self, text):
        """The BPE token strings of `text` (byte-level characters)."""
        toks = []
        for piece in pretokenize(text):
            mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            toks.extend(self.bpe(mapped))
        return toks

    def encode(self, text):
        """Token ids of `text`. Special tokens in the text are not recognised: prepend
        eos_token_id yourself."""
        return [self.encoder[t] for t in self.tokenize(text)]

    def decode(self, ids):
        text = "".join(self.decoder[i] for i in ids)
        return bytearray(self.byte_decoder[c] for c in text).decode("utf-8", errors="replace")


def train_bpe(text, num_merges):
    """Learn `num_merges` merges from `text`. Returns (encoder, merges): the encoder has the
    256 byte tokens (ids 0..255 in bytes_to_unicode order), then one token per merge, then
    <|endoftext|> as the last id."""
    be = bytes_to_unicode()
    words = Counter(tuple(be[b] for b in piece.encode("utf-8")) for piece in pretokenize(text))
    vocab = list(be.values())
    known = set(vocab)
    merges = []
    while len(merges) < num_merges:
        pairs = Counter()
        for w, f in words.items():
            for j in range(len(w) - 1):
                pairs[(w[j], w[j + 1])] += f
        candidates = [(-c, p) for p, c in pairs.items() if p[0] + p[1] not in known]
        if not candidates:
            break
        _, (a, b) = min(candidates)
        merges.append((a, b))
        vocab.append(a + b)
        known.add(a + b)
        new_words = Counter()
        for w, f in words.items():
            out = []
            j = 0
            while j < len(w):
                if j < len(w) - 1 and w[j] == a and w[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            new_words[tuple(out)] += f
        words = new_words
    vocab.append(ENDOFTEXT)
    return {t: i for i, t in enumerate(vocab)}, merges


def write_files(encoder, merges, vocab_path, merges_path):
    """vocab.json (token -> id) and merges.txt ('#version: 0.2' then 'a b' per line), HF style."""
    with open(vocab_path, "w", encoding="utf-8") as f:
        json.dump(encoder, f, ensure_ascii=False)
    with open(merges_path, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
