"""Word timestamps: align text tokens to audio frames through the cross-attention of the
checkpoint's alignment heads, with dynamic time warping (openai/whisper ``timing.py``).

The alignment heads' attention scores over the window's frames are softmaxed, standardised per
frame, median-filtered (width 7) and averaged; DTW finds the monotonic token→frame path; a word
starts where the path first reaches its first token. Punctuation is merged into its word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.models.whisper.tokenizer import WhisperTokenizer
from engine.transcript import Word

TOKENS_PER_SECOND = 50  # encoder positions per second (20 ms each)


@dataclass
class WordTiming:
    word: str
    tokens: list[int]
    start: float
    end: float
    probability: float


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median over the last axis with reflect padding."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = F.pad(x[None], (pad, pad, 0, 0), mode="reflect")[0]
    return padded.unfold(-1, width, 1).sort()[0][..., pad]


def dtw(cost_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest monotonic path through ``cost_matrix`` (N tokens × M frames): (token, frame) indices.

    Filled one anti-diagonal at a time, so the inner work is vectorised."""
    n, m = cost_matrix.shape
    cost = np.full((n + 1, m + 1), np.inf)
    trace = np.full((n + 1, m + 1), -1, dtype=np.int8)
    cost[0, 0] = 0.0
    for d in range(2, n + m + 1):  # cells with i + j == d
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
        choice = np.where((c0 < c1) & (c0 < c2), 0, np.where((c1 < c0) & (c1 < c2), 1, 2))
        best = np.choose(choice, [c0, c1, c2])
        cost[i, j] = cost_matrix[i - 1, j - 1] + best
        trace[i, j] = choice
    trace[0, :] = 2
    trace[:, 0] = 1
    i, j = n, m
    path = []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        t = trace[i, j]
        if t == 0:
            i, j = i - 1, j - 1
        elif t == 1:
            i -= 1
        else:
            j -= 1
    path = np.array(path[::-1])
    return path[:, 0], path[:, 1]


def alignment_prompt(tokenizer: WhisperTokenizer, language: str | None = None, task: str | None = None) -> list[int]:
    """What the text is aligned under: the decoding's own <|startoftranscript|> [language] [task]
    (the words of a translation are timed under <|translate|>), then <|notimestamps|>."""
    return [*tokenizer.sot_sequence(language or tokenizer.language, task or tokenizer.task), tokenizer.no_timestamps]


def find_alignment(model, tokenizer: WhisperTokenizer, text_tokens: list[int], features: torch.Tensor,
                   num_frames: int, medfilt_width: int = 7, *, language: str | None = None,
                   task: str | None = None) -> list[WordTiming]:
    """Word timings of ``text_tokens`` decoded under ``language`` and ``task`` (default: the
    tokenizer view's, see ``WhisperTokenizer.for_task``)."""
    if not text_tokens:
        return []
    heads = model.config.alignment_heads or model.config.default_alignment_heads()
    prompt = alignment_prompt(tokenizer, language, task)
    tokens = torch.tensor([[*prompt, *text_tokens, tokenizer.eot]], device=features.device)
    logits, scores = model.decoder(tokens, model.decoder.cross_kv(features), need_cross_weights=True)
    sot = prompt[:-1]  # logits from <|notimestamps|> on predict the text
    sampled = logits[0, len(sot):, : tokenizer.eot]
    probs = sampled.softmax(-1)[torch.arange(len(text_tokens)), torch.tensor(text_tokens)].tolist()

    weights = torch.stack([scores[layer][0, head] for layer, head in heads])  # (heads, T, S)
    weights = weights[:, :, : max(1, num_frames // 2)].softmax(dim=-1)
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = median_filter((weights - mean) / std, medfilt_width)
    matrix = weights.mean(dim=0)[len(sot):-1]
    text_indices, time_indices = dtw(-matrix.double().cpu().numpy())

    words, word_tokens = tokenizer.split_to_word_tokens(text_tokens + [tokenizer.eot])
    if len(word_tokens) <= 1:
        return []
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    starts, ends = jump_times[boundaries[:-1]], jump_times[boundaries[1:]]
    word_probs = [float(np.mean(probs[i:j])) for i, j in zip(boundaries[:-1], boundaries[1:])]
    return [WordTiming(w, t, float(s), float(e), p)
            for w, t, s, e, p in zip(words, word_tokens, starts, ends, word_probs)]


def merge_punctuations(alignment: list[WordTiming], prepended: str, appended: str) -> None:
    i, j = len(alignment) - 2, len(alignment) - 1
    while i >= 0:
        previous, following = alignment[i], alignment[j]
        if previous.word.startswith(" ") and previous.word.strip() in prepended:
            following.word = previous.word + following.word
            following.tokens = previous.tokens + following.tokens
            previous.word, previous.tokens = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(alignment):
        previous, following = alignment[i], alignment[j]
        if not previous.word.endswith(" ") and following.word in appended:
            previous.word = previous.word + following.word
            previous.tokens = previous.tokens + following.tokens
            following.word, following.tokens = "", []
        else:
            i = j
        j += 1


def add_word_timestamps(model, tokenizer: WhisperTokenizer, segments: list, features: torch.Tensor,
                        window_seconds: float, options) -> None:
    """Give every segment of one window its words, timed in seconds of the whole file."""
    text_per_segment = [[t for t in s.tokens if t < tokenizer.eot] for s in segments]
    all_text = [t for toks in text_per_segment for t in toks]
    alignment = find_alignment(model, tokenizer, all_text, features, round(window_seconds * 100),
                               task=getattr(options, "task", None))
    merge_punctuations(alignment, options.prepend_punctuations, options.append_punctuations)
    time_offset = segments[0].seek * 0.01
    # long words at the edges of pauses get clipped, as published: at most twice the median
    durations = np.array([w.end - w.start for w in alignment if w.word])
    durations = durations[durations.nonzero()]
    max_duration = min(0.7, float(np.median(durations))) * 2 if len(durations) else 0.0

    index = 0
    for segment, toks in zip(segments, text_per_segment):
        consumed, words = 0, []
        while index < len(alignment) and consumed < len(toks):
            timing = alignment[index]
            index += 1
            if timing.word:
                start, end = time_offset + timing.start, time_offset + timing.end
                if max_duration and end - start > max_duration:
                    start = max(start, end - max_duration)
                start, end = max(start, segment.start), min(max(end, start), segment.end)
                if words and start < words[-1].end:
                    start = words[-1].end
                words.append(Word(start=round(start, 3), end=round(max(end, start), 3), word=timing.word,
                                  probability=timing.probability))
            consumed += len(timing.tokens)
        segment.words = words
