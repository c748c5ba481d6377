"""LocalAgreement-2: commit the words that two consecutive hypotheses agree on.

Whisper re-transcribes a growing window every few hundred milliseconds; its last words change
while the speaker is still saying them. A word is *committed* (final) once two hypotheses in a
row agree on it and on every word before it; the rest is *tentative*. Words are compared
without case and punctuation ("planks" and "planks." agree), and the newer spelling is kept.

The committed words of the current segment are fed back as the decoder's forced prefix, so a
hypothesis always starts with them and only the continuation is compared.
(Macháček, Dabre, Bojar: "Turning Whisper into Real-Time Transcription System", 2023.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PUNCT = re.compile(r"[^\w']+", re.UNICODE)


@dataclass(frozen=True)
class Word:
    tokens: tuple[int, ...]
    text: str  # as decoded, with its leading space

    @property
    def key(self) -> str:
        """What agreement compares: the word without case and punctuation (or the bare symbol)."""
        return _PUNCT.sub("", self.text).lower() or self.text.strip()


def split_words(tokens: list[int], decode) -> list[Word]:
    """Group text tokens into words: a word starts at a token whose text starts with a space.

    ``decode(tokens) -> str``. A token that decodes to an incomplete UTF-8 sequence stays with
    its neighbours, so a word's text is always whole characters.
    """
    words: list[Word] = []
    current: list[int] = []
    for token in tokens:
        piece = decode([token])
        if current and piece[:1].isspace() and "\ufffd" not in decode(current):
            words.append(Word(tuple(current), decode(current)))
            current = []
        current.append(token)
    if current:
        words.append(Word(tuple(current), decode(current)))
    return words


class LocalAgreement:
    """Holds the previous hypothesis' continuation and the words of this segment committed so far."""

    def __init__(self) -> None:
        self.committed: list[Word] = []
        self.tentative: list[Word] = []

    def prefix_tokens(self) -> list[int]:
        return [t for w in self.committed for t in w.tokens]

    def update(self, continuation: list[Word]) -> list[Word]:
        """Take a new hypothesis (the words after the committed ones); return the newly committed."""
        agreed = 0
        for old, new in zip(self.tentative, continuation):
            if old.key != new.key:
                break
            agreed += 1
        newly = continuation[:agreed]
        self.committed.extend(newly)
        self.tentative = continuation[agreed:]
        return newly

    def commit_all(self, continuation: list[Word]) -> list[Word]:
        """The segment ends (a pause, Stop): everything in the final hypothesis is committed."""
        self.committed.extend(continuation)
        self.tentative = []
        return continuation

    def reset(self) -> None:
        self.committed, self.tentative = [], []
