"""Decoding one 30 s window: greedy, sampling and batched beam search with Whisper's logit rules.

Follows the published decoding (openai/whisper ``decoding.py``): a prompt of previous text after
<|startofprev|>, the start-of-transcript sequence, blank and non-speech suppression, the timestamp
rules (timestamps in pairs, never decreasing, the first one at most ``max_initial_timestamp``,
timestamps forced when their total probability beats any text token), the no-speech probability
read at the start-of-transcript position. The audio's cross-attention keys/values are computed
once; hypotheses share them and grow a KV cache that beam search reorders. ``decode_batch``
decodes several windows at once (each with its own hypotheses, candidates and end).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.cancel import Cancelled
from engine.models.common.sampling import sample
from engine.models.whisper.model import Whisper
from engine.models.whisper.tokenizer import WhisperTokenizer


@dataclass
class DecodingOptions:
    task: str = "transcribe"
    language: str | None = None
    temperature: float = 0.0
    sample_len: int | None = None  # default: half the text context
    best_of: int | None = None  # candidates when sampling (temperature > 0)
    beam_size: int | None = None  # beams when temperature == 0; None = greedy
    patience: float = 1.0
    length_penalty: float | None = None
    prompt: list[int] = field(default_factory=list)  # previous text, after <|startofprev|>
    prefix: list[int] = field(default_factory=list)
    suppress_tokens: str | list[int] | None = "-1"
    suppress_blank: bool = True
    without_timestamps: bool = False
    max_initial_timestamp: float | None = 1.0
    # Sampling (temperature > 0) draws from a generator seeded with this and the temperature, one
    # per window: the same window gives the same text whatever it is batched with. None: torch's
    # global generator (unseeded).
    seed: int | None = None


@dataclass
class DecodingResult:
    tokens: list[int]
    text: str
    avg_logprob: float
    sum_logprob: float
    no_speech_prob: float
    temperature: float
    compression_ratio: float
    language: str = "en"


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def suppressed_tokens(tokenizer: WhisperTokenizer, option: str | list[int] | None) -> list[int]:
    """"-1" means the non-speech symbols; task and start tokens are always suppressed."""
    if option is None:
        tokens: list[int] = []
    elif isinstance(option, str):
        tokens = [int(t) for t in option.split(",") if t.strip()]
    else:
        tokens = list(option)
    if -1 in tokens:
        tokens = [t for t in tokens if t >= 0] + tokenizer.non_speech_tokens
    tokens += [tokenizer.transcribe, tokenizer.translate, tokenizer.sot, tokenizer.sot_prev, tokenizer.sot_lm]
    if tokenizer.no_speech is not None:
        tokens.append(tokenizer.no_speech)
    return sorted(set(tokens))


class LogitRules:
    """Everything that masks logits before a token is chosen, vectorised over hypotheses.

    Everything per call is built once here (the suppressed ids as a tensor on the device, the
    column ranges); ``apply`` reads each hypothesis's state from plain Python lists that the
    decoding loop keeps anyway, so a step makes no per-token Python-to-tensor round trips.
    """

    def __init__(self, tokenizer: WhisperTokenizer, options: DecodingOptions, n_vocab: int,
                 device: torch.device | str = "cpu"):
        self.tk = tokenizer
        self.timestamps = not options.without_timestamps
        suppress = [t for t in suppressed_tokens(tokenizer, options.suppress_tokens) if t < n_vocab]
        if self.timestamps:
            suppress = sorted(set(suppress) | {tokenizer.no_timestamps})
        self.suppress = torch.tensor(suppress, dtype=torch.long, device=device)
        blank = tokenizer.encode(" ") + [tokenizer.eot] if options.suppress_blank else []
        self.blank = torch.tensor(blank, dtype=torch.long, device=device) if blank else None
        self.max_initial = (None if options.max_initial_timestamp is None
                            else round(options.max_initial_timestamp / 0.02))
        self.n_timestamps = n_vocab - tokenizer.timestamp_begin
        self.timestamp_index = torch.arange(max(self.n_timestamps, 0), device=device)

    def apply(self, logits: Tensor, sampled: list[list[int]], last_timestamp: list[int]) -> None:
        """logits (R, V) for the next token of R hypotheses, modified in place.

        ``sampled[r]``: the tokens hypothesis r has chosen so far (all the same length);
        ``last_timestamp[r]``: its latest timestamp token, -1 if none.
        """
        neg = float("-inf")
        first = not sampled[0]
        if first and self.blank is not None:
            logits.index_fill_(1, self.blank, neg)
        logits.index_fill_(1, self.suppress, neg)
        if not self.timestamps:
            return
        tb, eot = self.tk.timestamp_begin, self.tk.eot
        if not first:
            floors, text_blocked = [], []
            for r, seq in enumerate(sampled):
                last = seq[-1] >= tb
                penultimate = len(seq) < 2 or seq[-2] >= tb
                if last and not penultimate:
                    # a lone timestamp must be followed by another (closing a segment) or by eot
                    text_blocked.append(r)
                    floors.append(last_timestamp[r] - tb)  # ... not below it
                elif last:  # after a pair, text must come
                    floors.append(self.n_timestamps)
                elif last_timestamp[r] >= 0:  # timestamps never decrease, and after a pair increase
                    floors.append(last_timestamp[r] - tb + 1)
                else:
                    floors.append(0)
            if text_blocked:
                logits[torch.tensor(text_blocked, device=logits.device), :eot] = neg
            if any(floors):
                floor = torch.tensor(floors, device=logits.device)
                logits[:, tb:].masked_fill_(self.timestamp_index[None, :] < floor[:, None], neg)
        else:  # the first sampled token is a timestamp, at most max_initial_timestamp
            logits[:, :tb] = neg
            if self.max_initial is not None:
                logits[:, tb + self.max_initial + 1:] = neg
        # if the timestamps together are likelier than any text token, a timestamp must come
        # (compared on logits: the softmax's normaliser is the same on both sides)
        forced = (logits[:, tb:].logsumexp(dim=-1) > logits[:, :tb].max(dim=-1).values).nonzero().squeeze(1)
        if forced.numel():
            logits[forced, :tb] = neg


def detect_language(model: Whisper, tokenizer: WhisperTokenizer, features: Tensor) -> tuple[str, dict[str, float]]:
    """Most probable language of one window's audio features (B=1), with all probabilities."""
    if not tokenizer.multilingual:
        return "en", {"en": 1.0}
    cross = model.decoder.cross_kv(features)
    logits, _ = model.decoder(torch.tensor([[tokenizer.sot]], device=features.device), cross)
    lang_tokens = torch.tensor(tokenizer.all_language_tokens, device=features.device)
    probs = logits[0, -1, lang_tokens].softmax(-1).tolist()
    table = dict(zip(tokenizer.all_language_codes, probs))
    return max(table, key=table.get), table


_PER_WINDOW = ("prompt", "prefix", "language", "seed")  # the options that may differ between windows decoded together


def _initial_tokens(tokenizer: WhisperTokenizer, options: DecodingOptions, n_ctx: int) -> tuple[list[int], int]:
    """The decoder's forced start (previous text, start-of-transcript sequence, prefix) and the
    index of <|startoftranscript|> in it (where the no-speech probability is read)."""
    initial: list[int] = []
    if options.prompt:
        initial = [tokenizer.sot_prev] + options.prompt[-(n_ctx // 2 - 1):]
    sot_index = len(initial)
    initial += tokenizer.sot_sequence(options.language or "en", options.task)
    if options.without_timestamps:
        initial.append(tokenizer.no_timestamps)
    if options.prefix:
        initial += options.prefix[-(n_ctx // 2 - 1):]
    return initial, sot_index


def decode(model: Whisper, tokenizer: WhisperTokenizer, features: Tensor, options: DecodingOptions,
           should_stop: Callable[[], bool] | None = None) -> DecodingResult:
    """Decode one window's features (1, n_audio_ctx, D) into the best hypothesis."""
    return decode_batch(model, tokenizer, features, [options], should_stop)[0]


def _window_generator(seed: int | None, temperature: float, device: torch.device) -> torch.Generator | None:
    """A window's sampling generator: from its seed and the temperature (each rung of the
    fallback draws anew), None without a seed."""
    if seed is None:
        return None
    import hashlib

    digest = hashlib.sha256(f"{seed}\0{temperature!r}".encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def decode_batch(model: Whisper, tokenizer: WhisperTokenizer, features: Tensor,
                 options: DecodingOptions | list[DecodingOptions],
                 should_stop: Callable[[], bool] | None = None) -> list[DecodingResult]:
    """Decode N windows' features (N, n_audio_ctx, D) together: one result per window.

    Each window's result is what ``decode`` gives it alone, up to float rounding: the windows
    share every decoding option except ``prompt``, ``prefix`` and ``language`` (start sequences
    of different lengths are left-padded and masked). Each window has its own G hypotheses
    (beams or samples), its own finished candidates and its own end; a window that is done
    leaves the batch, so the others decode on with fewer rows. Per step the weights, the logits matmul and the Python work are
    shared by all windows: that is what makes many short clips cheap.
    """
    n_audio = features.shape[0]
    opts = list(options) if isinstance(options, (list, tuple)) else [options] * n_audio
    if len(opts) != n_audio:
        raise ValueError(f"{n_audio} windows but {len(opts)} decoding options")
    o = opts[0]
    shared = {k: v for k, v in o.__dict__.items() if k not in _PER_WINDOW}
    for other in opts[1:]:
        if {k: v for k, v in other.__dict__.items() if k not in _PER_WINDOW} != shared:
            raise ValueError("windows decoded together must share every option but prompt, prefix and language")
    device = features.device
    decoder = model.decoder
    n_ctx = model.config.n_text_ctx
    eot = tokenizer.eot
    starts = [_initial_tokens(tokenizer, x, n_ctx) for x in opts]
    width = max(len(initial) for initial, _ in starts)
    pads = [width - len(initial) for initial, _ in starts]
    limits = [min(o.sample_len or n_ctx // 2, n_ctx - len(initial)) for initial, _ in starts]

    if o.temperature == 0 and o.beam_size:
        n_group = o.beam_size
    elif o.temperature > 0 and o.best_of:
        n_group = o.best_of
    else:
        n_group = 1
    beam = o.temperature == 0 and n_group > 1
    max_candidates = round(n_group * o.patience)
    rules = LogitRules(tokenizer, o, model.config.n_vocab, device)
    generators = [_window_generator(x.seed, o.temperature, device) for x in opts] if o.temperature > 0 else []

    # the prompt once per window; then each window's G hypotheses share it
    cross = decoder.cross_kv(features)
    longest = max(max(limits), 1)
    pad = torch.tensor(pads, device=device) if any(pads) else None
    cache = decoder.new_cache(n_audio, capacity=width + min(longest, 32), max_length=width + longest, pad=pad)
    prompt = torch.tensor([[eot] * p + initial for p, (initial, _) in zip(pads, starts)], device=device)
    hidden, _ = decoder.hidden(prompt, cross, cache)
    rows = torch.arange(n_audio, device=device)
    sot = torch.tensor([p + i for p, (_, i) in zip(pads, starts)], device=device)
    if tokenizer.no_speech is not None:
        no_speech = decoder.logits(hidden[rows, sot]).softmax(-1)[:, tokenizer.no_speech].tolist()
    else:
        no_speech = [0.0] * n_audio
    logits = decoder.logits(hidden[:, -1])
    if n_group > 1:
        cache.repeat(n_group)
        logits = logits.repeat_interleave(n_group, dim=0)

    active = list(range(n_audio))  # windows still decoding, in row order (G rows each)
    seqs: list[list[int]] = [[] for _ in range(n_audio * n_group)]  # tokens chosen per row
    sums = [0.0] * (n_audio * n_group)
    last_ts = [-1] * (n_audio * n_group)
    done = [False] * (n_audio * n_group)  # greedy / sampling: row has ended
    finished: list[dict[tuple[int, ...], float]] = [{} for _ in range(n_audio)]  # beam: sequence -> score
    candidates: list[list[tuple[list[int], float]]] = [[] for _ in range(n_audio)]
    tb = tokenizer.timestamp_begin
    vocab = logits.shape[-1]
    step = 0

    def close_beam(clip: int, rows: range, row_seqs: list[list[int]], row_sums: list[float]) -> None:
        fin = finished[clip]
        if len(fin) < n_group:  # not enough ended: take the open ones too
            for r in rows:
                fin.setdefault(tuple(row_seqs[r]), row_sums[r])
                if len(fin) >= n_group:
                    break
        candidates[clip] = [(list(seq), score) for seq, score in fin.items()]

    def close_sampled(clip: int, rows: range) -> None:
        out = []
        for r in rows:
            seq = seqs[r]
            if eot in seq:
                seq = seq[: seq.index(eot)]
            out.append((seq, sums[r]))
        candidates[clip] = out

    for a, clip in enumerate(list(active)):  # no room for a single token (a prompt filling the context)
        if limits[clip] <= 0:
            base = a * n_group
            (close_beam(clip, range(base, base + n_group), seqs, sums) if beam
             else close_sampled(clip, range(base, base + n_group)))
    if any(limits[clip] <= 0 for clip in active):
        keep_rows = [a * n_group + g for a, clip in enumerate(active) if limits[clip] > 0 for g in range(n_group)]
        kept = torch.tensor([a for a, clip in enumerate(active) if limits[clip] > 0], device=device, dtype=torch.long)
        cross = [(k[kept], v[kept]) for k, v in cross]
        cache.reorder(torch.tensor(keep_rows, device=device, dtype=torch.long))
        logits = logits[torch.tensor(keep_rows, device=device, dtype=torch.long)]
        seqs, sums = [seqs[r] for r in keep_rows], [sums[r] for r in keep_rows]
        last_ts, done = [last_ts[r] for r in keep_rows], [done[r] for r in keep_rows]
        active = [clip for clip in active if limits[clip] > 0]

    while active:
        if should_stop is not None and should_stop():
            raise Cancelled()
        rules.apply(logits, seqs, last_ts)
        logprobs = F.log_softmax(logits, dim=-1)
        survivors: list[int] = []
        keep_rows: list[int] = []
        if beam:
            scores = logprobs + torch.tensor(sums, device=device)[:, None]
            if step == 0:
                scores.view(len(active), n_group, vocab)[:, 1:] = float("-inf")  # identical beams: expand one
            top = scores.view(len(active), n_group * vocab).topk(2 * n_group)
            values, indices = top.values.tolist(), top.indices.tolist()
            new_seqs, new_sums, new_last, next_tokens = [], [], [], []
            for a, clip in enumerate(active):
                fin = finished[clip]
                keep: list[tuple[int, int, float]] = []
                for score, index in zip(values[a], indices[a]):
                    source, token = divmod(index, vocab)
                    row = a * n_group + source
                    if token == eot:
                        if len(fin) < max_candidates:
                            fin.setdefault(tuple(seqs[row]), score)
                    elif len(keep) < n_group:
                        keep.append((row, token, score))
                base = a * n_group
                if len(fin) >= max_candidates or not keep:
                    close_beam(clip, range(base, base + n_group), seqs, sums)
                    continue
                chosen = [seqs[row] + [token] for row, token, _ in keep]
                chosen_sums = [score for _, _, score in keep]
                if step + 1 >= limits[clip]:  # no room for more tokens
                    close_beam(clip, range(len(keep)), chosen, chosen_sums)
                    continue
                survivors.append(clip)
                for (row, token, score), seq in zip(keep, chosen):
                    keep_rows.append(row)
                    new_seqs.append(seq)
                    new_sums.append(score)
                    new_last.append(token if token >= tb else last_ts[row])
                    next_tokens.append(token)
            if not survivors:
                break
            seqs, sums, last_ts = new_seqs, new_sums, new_last
        else:
            if o.temperature == 0:
                next_tok = logprobs.argmax(dim=-1)
            elif all(generators[clip] is None for clip in active):
                next_tok = sample(logits, o.temperature)  # what Categorical(logits=...).sample() draws
            else:  # each window from its own generator: its draws do not depend on its batch
                next_tok = torch.cat([sample(logits[a * n_group:(a + 1) * n_group], o.temperature,
                                             generator=generators[clip]) for a, clip in enumerate(active)])
            current = logprobs.gather(1, next_tok[:, None]).squeeze(1).tolist()
            chosen_tokens = next_tok.tolist()
            next_tokens = []
            for r, token in enumerate(chosen_tokens):
                if done[r]:
                    token = eot
                else:
                    sums[r] += current[r]
                    done[r] = token == eot
                seqs[r].append(token)
                if token >= tb:
                    last_ts[r] = token
                next_tokens.append(token)
            for a, clip in enumerate(active):
                base = a * n_group
                rows_of = range(base, base + n_group)
                if all(done[r] for r in rows_of) or step + 1 >= limits[clip]:
                    close_sampled(clip, rows_of)
                else:
                    survivors.append(clip)
                    keep_rows.extend(rows_of)
            if not survivors:
                break
            if len(survivors) < len(active):
                seqs = [seqs[r] for r in keep_rows]
                sums = [sums[r] for r in keep_rows]
                last_ts = [last_ts[r] for r in keep_rows]
                done = [done[r] for r in keep_rows]
                next_tokens = [next_tokens[r] for r in keep_rows]
        if len(survivors) < len(active):  # windows left: drop their rows and audio
            kept = torch.tensor([active.index(c) for c in survivors], device=device)
            cross = [(k[kept], v[kept]) for k, v in cross]
            cache.reorder(torch.tensor(keep_rows, device=device))
        elif beam and keep_rows != list(range(len(keep_rows))):
            cache.reorder(torch.tensor(keep_rows, device=device), start=width)  # beams share the prompt
        active = survivors
        step += 1
        tokens = torch.tensor(next_tokens, device=device)[:, None]
        logits = decoder.logits(decoder.hidden(tokens, cross, cache)[0][:, -1])

    def rank(item: tuple[list[int], float]) -> float:
        seq, score = item
        length = len(seq)
        if o.length_penalty is None:
            penalty = max(length, 1)
        else:
            penalty = ((5 + length) / 6) ** o.length_penalty
        return score / penalty

    results = []
    for clip in range(n_audio):
        best_tokens, best_score = max(candidates[clip], key=rank)
        text = tokenizer.decode(best_tokens).strip()
        results.append(DecodingResult(
            tokens=best_tokens, text=text, avg_logprob=best_score / (len(best_tokens) + 1), sum_logprob=best_score,
            no_speech_prob=no_speech[clip], temperature=o.temperature,
            compression_ratio=compression_ratio(text), language=opts[clip].language or "en"))
    return results
