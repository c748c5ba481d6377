"""General MIDI level-1 program names, and a lookup from what people call an instrument to its
program, so a prompt such as "a jig for fiddle" or "an air on tin whistle" picks a program.
"""

from __future__ import annotations

import re

GM_PROGRAMS: tuple[str, ...] = (
    # Piano
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    # Chromatic percussion
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    # Organ
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion",
    # Guitar
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    # Bass
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
    "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    # Strings
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp",
    "Timpani",
    # Ensemble
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs",
    "Synth Voice", "Orchestra Hit",
    # Brass
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
    "Synth Brass 2",
    # Reed
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    # Pipe
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    # Synth lead
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
    "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    # Synth pad
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    # Synth effects
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    # Ethnic
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    # Percussive
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum",
    "Reverse Cymbal",
    # Sound effects
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
    "Gunshot",
)

# What people call an instrument -> its program. Checked before the GM names, so "fiddle" is the
# violin a folk fiddler plays (GM's 110 "Fiddle" is a nasal ethnic patch, reached by number only).
SYNONYMS: dict[str, int] = {
    "piano": 0, "grand piano": 0, "acoustic piano": 0, "upright piano": 0,
    "electric piano": 4, "rhodes": 4,
    "celeste": 8, "musicbox": 10, "vibes": 11, "bells": 14, "chimes": 14, "hammered dulcimer": 15,
    "hammond": 16, "hammond organ": 16, "organ": 19, "pipe organ": 19, "harmonium": 20,
    "concertina": 21, "squeezebox": 21, "button accordion": 21, "mouth organ": 22,
    "guitar": 24, "classical guitar": 24, "nylon guitar": 24, "spanish guitar": 24,
    "acoustic guitar": 25, "steel guitar": 25, "folk guitar": 25, "jazz guitar": 26, "electric guitar": 27,
    "bass": 32, "electric bass": 33, "bass guitar": 33, "double bass": 43, "upright bass": 43,
    "fiddle": 40, "violoncello": 42, "pizzicato": 45,
    "string": 48, "strings": 48, "string ensemble": 48, "string orchestra": 48,
    "harp": 46, "celtic harp": 46, "kettledrums": 47, "kettle drums": 47,
    "choir": 52, "chorus": 52, "voice": 52, "voices": 52, "singers": 52,
    "cornet": 56, "horn": 60, "brass": 61, "brass band": 61,
    "sax": 65, "saxophone": 65, "cor anglais": 69, "fife": 72, "pan pipes": 75, "panpipes": 75, "panpipe": 75,
    "tin whistle": 78, "penny whistle": 78, "low whistle": 78,
    "bagpipes": 109, "bag pipe": 109, "bag pipes": 109, "pipes": 109, "uilleann pipes": 109,
    "highland pipes": 109, "thumb piano": 108, "mbira": 108, "steel drum": 114, "steel pan": 114,
    "steelpan": 114, "synth": 80, "synthesizer": 80, "synthesiser": 80,
}


def normalize(text: str) -> str:
    """Lower case, words and numbers only: "Acoustic Guitar (nylon)" -> "acoustic guitar nylon"."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


_BY_NAME = {normalize(name): program for program, name in enumerate(GM_PROGRAMS)}


def program_name(program: int) -> str:
    if not 0 <= program <= 127:
        raise ValueError(f"a General MIDI program is 0 to 127, not {program}")
    return GM_PROGRAMS[program]


def find_program(text: str) -> int | None:
    """The program a name or synonym means (case and punctuation ignored, plurals too), or None."""
    words = normalize(text)
    for candidate in (words, words[:-1] if words.endswith("s") else None):
        if candidate:
            found = SYNONYMS.get(candidate, _BY_NAME.get(candidate))
            if found is not None:
                return found
    return None
