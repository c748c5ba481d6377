"""Decoding one 30 s window: greedy, sampling and batched beam search with Whisper's logit rules.

Follows the published decoding (openai/whisper ``decoding.py``): a prompt of previous text after
<|startofprev|>, the start-of-transcript sequence, blank and non-speech suppression, the timestamp
rules (timestamps in pairs, never decreasing, the first one at most ``max_initial_timestamp``,
timestamps forced when their total probability beats any text token), the no-speech probability
read at the start-of-transcript position. The audio's cross-attention keys/values are computed
once; hypotheses share them and grow a preallocated KV cache that beam search reorders.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from engine.jobs import Cancelled
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
    """Everything that masks logits before a token is chosen, vectorised over hypotheses."""

    def __init__(self, tokenizer: WhisperTokenizer, options: DecodingOptions, sample_begin: int, n_vocab: int):
        self.tk = tokenizer
        self.sample_begin = sample_begin
        self.suppress = torch.tensor(suppressed_tokens(tokenizer, options.suppress_tokens), dtype=torch.long)
        self.suppress = self.suppress[self.suppress < n_vocab]
        self.blank = tokenizer.encode(" ") + [tokenizer.eot] if options.suppress_blank else []
        self.timestamps = not options.without_timestamps
        self.max_initial = (None if options.max_initial_timestamp is None
                            else round(options.max_initial_timestamp / 0.02))

    def apply(self, logits: Tensor, tokens: Tensor) -> None:
        """logits (B, V) for the next token of ``tokens`` (B, T); modified in place."""
        neg = float("-inf")
        if tokens.shape[1] == self.sample_begin and self.blank:
            logits[:, self.blank] = neg
        logits[:, self.suppress.to(logits.device)] = neg
        if not self.timestamps:
            return
        tb, eot = self.tk.timestamp_begin, self.tk.eot
        logits[:, self.tk.no_timestamps] = neg
        sampled = tokens[:, self.sample_begin:]
        if sampled.shape[1] > 0:
            is_ts = sampled >= tb
            last = is_ts[:, -1]
            penultimate = is_ts[:, -2] if sampled.shape[1] >= 2 else torch.ones_like(last)
            # a lone timestamp must be followed by another (closing a segment) or by eot;
            # after a pair, text must come
            logits[last & penultimate, tb:] = neg
            logits[last & ~penultimate, :eot] = neg
            # timestamps never decrease (and after a pair, strictly increase)
            any_ts = is_ts.any(dim=1)
            if any_ts.any():
                masked = torch.where(is_ts, sampled, torch.full_like(sampled, -1))
                last_ts = masked.max(dim=1).values
                floor = torch.where(last & ~penultimate, last_ts, last_ts + 1)
                vocab_index = torch.arange(logits.shape[1], device=logits.device)
                block = any_ts[:, None] & (vocab_index[None, :] >= tb) & (vocab_index[None, :] < floor[:, None])
                logits.masked_fill_(block, neg)
        else:  # the first sampled token is a timestamp, at most max_initial_timestamp
            logits[:, :tb] = neg
            if self.max_initial is not None:
                logits[:, tb + self.max_initial + 1:] = neg
        # if the timestamps together are likelier than any text token, a timestamp must come
        logprobs = F.log_softmax(logits.float(), dim=-1)
        ts_logprob = logprobs[:, tb:].logsumexp(dim=-1)
        text_max = logprobs[:, :tb].max(dim=-1).values
        logits[ts_logprob > text_max, :tb] = neg


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


def decode(model: Whisper, tokenizer: WhisperTokenizer, features: Tensor, options: DecodingOptions,
           should_stop: Callable[[], bool] | None = None) -> DecodingResult:
    """Decode one window's features (1, n_audio_ctx, D) into the best hypothesis."""
    device = features.device
    n_ctx = model.config.n_text_ctx
    sample_len = options.sample_len or n_ctx // 2
    language = options.language or "en"
    initial: list[int] = []
    if options.prompt:
        initial = [tokenizer.sot_prev] + options.prompt[-(n_ctx // 2 - 1):]
    sot_index = len(initial)
    initial += tokenizer.sot_sequence(language, options.task)
    if options.without_timestamps:
        initial.append(tokenizer.no_timestamps)
    if options.prefix:
        initial += options.prefix[-(n_ctx // 2 - 1):]
    sample_begin = len(initial)
    sample_len = min(sample_len, n_ctx - sample_begin)

    if options.temperature == 0 and options.beam_size:
        n_group = options.beam_size
    elif options.temperature > 0 and options.best_of:
        n_group = options.best_of
    else:
        n_group = 1
    beam = options.temperature == 0 and n_group > 1
    rules = LogitRules(tokenizer, options, sample_begin, model.config.n_vocab)
    cross = model.decoder.cross_kv(features)
    cache = model.decoder.new_cache(n_group)
    tokens = torch.tensor([initial] * n_group, device=device)
    sum_logprobs = torch.zeros(n_group, device=device)
    finished: dict[tuple[int, ...], float] = {}  # beam search: completed sequences -> score
    done = torch.zeros(n_group, dtype=torch.bool, device=device)  # greedy/sampling
    logits, _ = model.decoder(tokens, cross, cache)
    no_speech_prob = logits[0, sot_index].softmax(-1)[tokenizer.no_speech].item()
    logits = logits[:, -1]
    eot = tokenizer.eot
    max_candidates = round(n_group * options.patience)

    for _ in range(sample_len):
        if should_stop is not None and should_stop():
            raise Cancelled()
        rules.apply(logits, tokens)
        logprobs = F.log_softmax(logits.float(), dim=-1)
        if beam:
            scores = sum_logprobs[:, None] + logprobs
            if tokens.shape[1] == sample_begin:
                scores[1:] = float("-inf")  # the beams start identical: expand only the first
            scores = scores.flatten()
            top = scores.topk(2 * n_group).indices
            sources, next_tokens = top // logprobs.shape[1], top % logprobs.shape[1]
            keep_source, keep_token, keep_score = [], [], []
            for src, tok, idx in zip(sources.tolist(), next_tokens.tolist(), top.tolist()):
                score = scores[idx].item()
                if tok == eot:
                    seq = tuple(tokens[src, sample_begin:].tolist())
                    if len(finished) < max_candidates and seq not in finished:
                        finished[seq] = score
                elif len(keep_source) < n_group:
                    keep_source.append(src)
                    keep_token.append(tok)
                    keep_score.append(score)
            if len(finished) >= max_candidates or not keep_source:
                break
            src_t = torch.tensor(keep_source, device=device)
            cache.reorder(src_t)
            tokens = torch.cat([tokens[src_t], torch.tensor(keep_token, device=device)[:, None]], dim=1)
            sum_logprobs = torch.tensor(keep_score, device=device)
            next_input = tokens[:, -1:]
        else:
            if options.temperature == 0:
                next_tok = logprobs.argmax(dim=-1)
            else:
                next_tok = torch.distributions.Categorical(logits=logits.float() / options.temperature).sample()
            current = logprobs.gather(1, next_tok[:, None]).squeeze(1)
            sum_logprobs = sum_logprobs + torch.where(done, torch.zeros_like(current), current)
            next_tok = torch.where(done, torch.full_like(next_tok, eot), next_tok)
            done = done | (next_tok == eot)
            tokens = torch.cat([tokens, next_tok[:, None]], dim=1)
            if bool(done.all()):
                break
            next_input = tokens[:, -1:]
        if tokens.shape[1] >= n_ctx:
            break
        logits = model.decoder(next_input, cross, cache)[0][:, -1]

    if beam:
        if len(finished) < n_group:  # not enough ended: take the open ones too
            for i in range(tokens.shape[0]):
                seq = tuple(tokens[i, sample_begin:].tolist())
                finished.setdefault(seq, sum_logprobs[i].item())
                if len(finished) >= n_group:
                    break
        candidates = [(list(seq), score) for seq, score in finished.items()]
    else:
        candidates = []
        for i in range(n_group):
            seq = tokens[i, sample_begin:].tolist()
            if eot in seq:
                seq = seq[: seq.index(eot)]
            candidates.append((seq, sum_logprobs[i].item()))

    def rank(item: tuple[list[int], float]) -> float:
        seq, score = item
        length = len(seq)
        if options.length_penalty is None:
            penalty = max(length, 1)
        else:
            penalty = ((5 + length) / 6) ** options.length_penalty
        return score / penalty

    best_tokens, best_score = max(candidates, key=rank)
    text = tokenizer.decode(best_tokens).strip()
    return DecodingResult(
        tokens=best_tokens, text=text, avg_logprob=best_score / (len(best_tokens) + 1), sum_logprob=best_score,
        no_speech_prob=no_speech_prob, temperature=options.temperature,
        compression_ratio=compression_ratio(text), language=language,
    )
