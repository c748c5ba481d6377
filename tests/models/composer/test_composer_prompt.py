"""The Compose prompt reader: each rule, each notice, each error, and that it is deterministic."""

import pytest

from engine.models.composer import controls
from engine.models.composer.controls import STYLES, Controls, Key
from engine.models.composer.prompt import Reading, read_prompt


def chip(text: str, name: str, **kw) -> str:
    return read_prompt(text, seed=0, **kw).chips()[name]


def test_the_brief_example_reads_completely():
    r = read_prompt("a lively jig in D major, 16 bars, fiddle")
    assert r.chips() == {"style": "jig", "key": "D major", "meter": "6/8", "tempo": "218 BPM", "bars": "16",
                         "instrument": "Violin", "voices": "1"}
    assert r.said == {"style", "key", "tempo", "bars", "instrument"}
    assert r.ignored == [] and r.notices == []
    assert r.controls == Controls("jig", Key(2, "major"), (6, 8), 218.0, 16, 40, 1)


def test_unsaid_controls_are_the_styles_defaults():
    r = read_prompt("chorale")
    assert r.said == {"style"} and r.notices == []
    assert r.chips() == {"style": "chorale", "key": "C major", "meter": "4/4", "tempo": "80 BPM", "bars": "16",
                         "instrument": "Church Organ", "voices": "4"}


# Styles

@pytest.mark.parametrize("text, style", [
    ("reel", "reel"), ("Reels", "reel"), ("jig", "jig"), ("jigs", "jig"), ("double jig", "jig"), ("slide", "jig"),
    ("slip jig", "slip jig"), ("a slipjig", "slip jig"), ("hornpipe", "hornpipe"), ("hornpipes", "hornpipe"),
    ("clog", "hornpipe"), ("strathspey", "strathspey"), ("fling", "strathspey"), ("highland fling", "strathspey"),
    ("air", "air"), ("airs", "air"), ("slow air", "air"), ("lament", "air"), ("folk song", "folk song"),
    ("folksong", "folk song"), ("folk", "folk song"), ("lied", "folk song"), ("german", "folk song"),
    ("chinese", "chinese folk song"), ("chinese folk song", "chinese folk song"), ("chorale", "chorale"),
    ("chorales", "chorale"), ("hymn", "chorale"), ("bach", "chorale"), ("chorale harmonisation", "chorale"),
    ("renaissance", "renaissance"), ("polyphony", "renaissance"), ("palestrina", "renaissance"),
    ("motet", "renaissance"), ("mass", "renaissance"), ("madrigal", "renaissance"),
])
def test_style_names_and_synonyms(text, style):
    r = read_prompt(text)
    assert r.controls.style == style and "style" in r.said
    assert r.ignored == [] and r.notices == []


def test_multi_word_styles_win_over_their_words():
    assert read_prompt("slip jig").controls.meter == (9, 8)
    slow_air = read_prompt("slow air")
    assert slow_air.controls.bpm == 80 and "tempo" not in slow_air.said  # "slow" is part of the style
    assert read_prompt("a german folk song").notices == []


@pytest.mark.parametrize("text, style, meter, notice", [
    ("waltz", "air", (3, 4), "no waltzes in the training data: an air in 3/4"),
    ("march", "folk song", (2, 4), "no marches in the training data: a folk song in 2/4"),
    ("polka", "reel", (2, 4), "no polkas in the training data: a reel in 2/4"),
    ("minuets", "air", (3, 4), "no minuets in the training data: an air in 3/4"),
])
def test_styles_without_training_data_map_to_the_nearest(text, style, meter, notice):
    r = read_prompt(text)
    assert (r.controls.style, r.controls.meter, r.notices) == (style, meter, [notice])
    assert {"style", "meter"} <= r.said


def test_the_first_of_two_styles_wins():
    r = read_prompt("a jig or a reel")
    assert r.controls.style == "jig"
    assert r.notices == ["two styles named: the first, jig, wins over reel"]
    assert r.ignored == ["or", "reel"]
    assert read_prompt("a jig, a double jig").notices == []  # the same style twice


def test_no_style_draws_one_from_the_seed():
    r = read_prompt("", seed=3)
    assert r.controls.style in STYLES and r.said == set()
    assert r.notices == [f"no style named: a random one ({r.controls.style})"]
    words = read_prompt("something nice", seed=3)
    assert words.ignored == ["something", "nice"] and words.controls.style == r.controls.style
    assert len({read_prompt("", seed=s).controls.style for s in range(20)}) > 1


def test_same_text_and_seed_give_the_same_reading():
    for text in ("", "in D minor, 12 bars", "a jig or a reel for kazoo in H major"):
        assert read_prompt(text, seed=7) == read_prompt(text, seed=7)
    assert isinstance(read_prompt("reel"), Reading)


# Keys

@pytest.mark.parametrize("text, key", [
    ("D major", "D major"), ("in D", "D major"), ("D minor", "D minor"), ("Dm", "D minor"),
    ("F# minor", "F# minor"), ("f sharp minor", "F# minor"), ("F#m", "F# minor"), ("Bb major", "Bb major"),
    ("B flat", "Bb major"), ("B-flat major", "Bb major"), ("E♭", "Eb major"), ("in a minor", "A minor"),
    ("C# major", "C# major"), ("key of G", "G major"), ("in the key of a", "A major"), ("in e", "E major"),
    ("D minor key", "D minor"), ("g MAJ", "G major"), ("C min", "C minor"), ("in B", "B major"),
])
def test_keys(text, key):
    r = read_prompt(f"reel {text}")
    assert str(r.controls.key) == key and "key" in r.said
    assert r.ignored == []


@pytest.mark.parametrize("text, key, notice", [
    ("Db major", "C# major", "Db is written C#"), ("A# minor", "Bb minor", "A# is written Bb"),
    ("G flat", "F# major", "Gb is written F#"), ("d♯ minor", "Eb minor", "D# is written Eb"),
])
def test_enharmonic_keys_fold_onto_the_tonics(text, key, notice):
    r = read_prompt(f"reel in {text}")
    assert str(r.controls.key) == key and r.notices == [notice]


@pytest.mark.parametrize("text, key", [
    ("jig, minor", "D minor"), ("minor air", "G minor"), ("a minor-key reel", "D minor"), ("major chorale", "C major"),
])
def test_a_mode_alone_changes_the_default_key(text, key):
    assert chip(text, "key") == key


@pytest.mark.parametrize("style, key", [
    ("reel", "D major"), ("jig", "D major"), ("slip jig", "D major"), ("hornpipe", "D major"),
    ("strathspey", "D major"), ("air", "G major"), ("folk song", "G major"), ("chinese folk song", "C major"),
    ("chorale", "C major"), ("renaissance", "C major"),
])
def test_default_keys(style, key):
    r = read_prompt(style)
    assert str(r.controls.key) == key and "key" not in r.said


def test_an_article_is_not_a_key():
    r = read_prompt("a jig in a hurry")
    assert chip("a jig in a hurry", "key") == "D major" and r.ignored == ["hurry"]


@pytest.mark.parametrize("text, phrase, ignored", [
    ("reel in H major", "H major", ["H", "major"]), ("reel in X# minor", "X# minor", ["X#", "minor"]),
    ("reel in x#", "x#", ["x#"]),
])
def test_an_unknown_key_is_named_and_the_default_kept(text, phrase, ignored):
    r = read_prompt(text)
    assert r.notices == [f"unknown key '{phrase}': kept D major"]
    assert r.ignored == ignored and "key" not in r.said


def test_a_modal_name_is_read_as_major_or_minor():
    assert read_prompt("D dorian reel").notices == ["the model knows major and minor only: dorian read as minor"]
    assert chip("a mixolydian hornpipe in A", "key") == "A major"


def test_the_first_of_two_keys_wins():
    r = read_prompt("jig in D major, no, in G")
    assert chip("jig in D major, no, in G", "key") == "D major"
    assert r.notices == ["two keys named: the first, D, wins over G"] and r.ignored == ["no", "G"]


# Meters

@pytest.mark.parametrize("text, meter", [
    ("6/8", "6/8"), ("in 3/4", "3/4"), ("in 12/8 time", "12/8"), ("common time", "4/4"), ("cut time", "2/2"),
    ("alla breve", "2/2"), ("waltz time", "3/4"),
])
def test_meters(text, meter):
    r = read_prompt(f"{text} folk song")
    assert r.chips()["meter"] == meter and "meter" in r.said and r.ignored == []


@pytest.mark.parametrize("meter", ["7/8", "5/8", "11/16"])
def test_an_unknown_meter_is_an_error_listing_the_known(meter):
    with pytest.raises(ValueError, match=f"{meter}.*6/8, 9/8"):
        read_prompt(f"a reel in {meter}")


@pytest.mark.parametrize("text, notice", [
    ("waltz in 4/4", "the explicit meter 4/4 wins over waltz's 3/4"),
    ("jig in 4/4", "the explicit meter 4/4 wins over jig's 6/8"),
    ("4/4 double jig", "the explicit meter 4/4 wins over double jig's 6/8"),
    ("reel in waltz time", "the explicit meter 3/4 wins over reel's 2/2"),
])
def test_an_explicit_meter_wins_over_the_styles(text, notice):
    r = read_prompt(text)
    assert notice in r.notices and r.chips()["meter"] == notice.split()[3]


def test_a_matching_meter_or_a_random_style_gives_no_meter_notice():
    assert read_prompt("jig in 6/8").notices == []
    assert read_prompt("waltz in 3/4").notices == ["no waltzes in the training data: an air in 3/4"]
    assert len(read_prompt("in 2/2", seed=1).notices) == 1  # only the random style's


# Tempo

@pytest.mark.parametrize("text, bpm", [
    ("120 bpm", 120), ("at 90 bpm", 90), ("♩=100", 100), ("♩ = 66", 66), ("tempo 140", 140), ("112BPM", 112),
    ("at 92.5 bpm", 92.5), ("bpm: 72", 72),
])
def test_explicit_tempos(text, bpm):
    r = read_prompt(f"reel {text}")
    assert r.controls.bpm == bpm and "tempo" in r.said and r.ignored == []


@pytest.mark.parametrize("word, bpm", [
    ("very slow", 48), ("slow", 64), ("slower", 64), ("gentle", 64), ("moderate", 80), ("lively", 100),
    ("quick", 100), ("fast", 100), ("brisk", 100), ("very fast", 120),
])
def test_tempo_words_scale_the_styles_tempo(word, bpm):
    r = read_prompt(f"a {word} chorale")  # chorales are 80 BPM
    assert r.controls.bpm == bpm and "tempo" in r.said and r.notices == []


def test_a_scaled_tempo_is_rounded_and_clamped(monkeypatch):
    assert read_prompt("a lively jig").controls.bpm == round(174 * 1.25)
    monkeypatch.setitem(STYLES, "reel", ((4, 4), 300, 40, 1, "fast reels"))
    r = read_prompt("a very fast reel")
    assert r.controls.bpm == controls.MAX_BPM
    assert r.notices == [f"'very fast' makes 450 BPM: clamped to {controls.MAX_BPM}"]


def test_an_explicit_tempo_wins_over_a_word():
    r = read_prompt("a lively reel at 120 bpm")
    assert r.controls.bpm == 120
    assert r.notices == ["the explicit tempo 120 BPM wins over 'lively'"] and r.ignored == ["lively"]


@pytest.mark.parametrize("bpm", [500, 10, 401])
def test_a_tempo_out_of_range_is_an_error(bpm):
    with pytest.raises(ValueError, match=f"20 to 400 BPM, not {bpm}"):
        read_prompt(f"reel at {bpm} bpm")


# Bars

@pytest.mark.parametrize("text, bars", [
    ("16 bars", 16), ("a 16-bar", 16), ("eight bars", 8), ("twenty-four bars", 24), ("sixty four bars", 64),
    ("bars: 8", 8), ("32 measures", 32), ("one bar", 1), ("thirty-two-bar", 32),
])
def test_bars_in_the_text(text, bars):
    r = read_prompt(f"reel, {text}")
    assert r.controls.bars == bars and "bars" in r.said and r.ignored == []


def test_the_bars_argument_overrides_the_text():
    r = read_prompt("reel, 16 bars", bars=8)
    assert r.controls.bars == 8 and "bars" in r.said
    assert r.notices == ["the bars setting (8) overrides the prompt's 16 bars"] and r.ignored == ["16", "bars"]
    assert read_prompt("reel, 8 bars", bars=8).notices == []
    assert read_prompt("reel", bars=12).controls.bars == 12 and "bars" in read_prompt("reel", bars=12).said
    assert read_prompt("reel").controls.bars == 16 and "bars" not in read_prompt("reel").said


@pytest.mark.parametrize("text, bars, bad", [("0 bars", None, "0"), ("1000 bars", None, "1000"),
                                             ("", 0, "0"), ("", 65, "65"), ("ninety bars", None, "90")])
def test_bars_out_of_range_are_an_error(text, bars, bad):
    with pytest.raises(ValueError, match=f"1 to 64 bars, not {bad}"):
        read_prompt(f"reel {text}", bars=bars)


# Instruments

@pytest.mark.parametrize("text, name", [
    ("jig, fiddle", "Violin"), ("jig for fiddle", "Violin"), ("air on tin whistle", "Whistle"),
    ("air played on the harp", "Orchestral Harp"), ("reel with piano", "Acoustic Grand Piano"),
    ("hymn for voices", "Choir Aahs"), ("reel on bagpipes", "Bagpipe"), ("air for Church Organ", "Church Organ"),
    ("air on acoustic guitar (nylon)", "Acoustic Guitar (nylon)"), ("jig, music box", "Music Box"),
])
def test_instruments(text, name):
    r = read_prompt(text)
    assert r.chips()["instrument"] == name and "instrument" in r.said and r.ignored == []


@pytest.mark.parametrize("text", ["jig for kazoo", "jig played on a kazoo", "jig, instrument: kazoo",
                                  "jig on the Kazoo"])
def test_an_unknown_instrument_is_named_and_the_default_kept(text):
    r = read_prompt(text)
    word = "Kazoo" if "Kazoo" in text else "kazoo"
    assert r.notices == [f"'{word}' is not a General MIDI instrument: kept Violin"] and r.ignored == [word]
    assert r.controls.program == 40 and "instrument" not in r.said


def test_an_unknown_instrument_notice_names_the_instrument_kept():
    r = read_prompt("jig for kazoo and flute")
    assert r.notices == ["'kazoo' is not a General MIDI instrument: kept Flute"]


def test_an_unknown_word_without_a_cue_is_only_ignored():
    r = read_prompt("jig kazoo")
    assert r.ignored == ["kazoo"] and r.notices == []


# Voices

@pytest.mark.parametrize("text, voices", [
    ("solo", 1), ("monophonic", 1), ("melody", 1), ("unaccompanied", 1), ("duet", 2), ("two-part", 2),
    ("2 voices", 2), ("trio", 3), ("three-part", 3), ("four-part", 4), ("quartet", 4), ("SATB", 4),
    ("4 voices", 4), ("for four voices", 4),
])
def test_voices(text, voices):
    r = read_prompt(f"folk song, {text}")
    assert r.controls.voices == voices and "voices" in r.said and r.ignored == []


def test_more_than_four_voices_are_clamped():
    r = read_prompt("renaissance in six voices")
    assert r.controls.voices == 4
    assert r.notices == ["the model writes at most 4 voices: 6 read as 4"]


def test_no_voices_is_an_error():
    with pytest.raises(ValueError, match="voices are 1 to 4, not 0"):
        read_prompt("chorale in 0 voices")


def test_a_fraction_of_a_voice_is_not_a_voice_count():
    r = read_prompt("chorale for 2.5 voices")
    assert r.controls.voices == 4 and r.ignored == ["2.5"] and r.chips()["instrument"] == "Choir Aahs"


def test_default_voices():
    assert read_prompt("chorale").controls.voices == 4 and read_prompt("reel").controls.voices == 1


# Ignored words

def test_stop_words_are_not_listed_and_others_are_in_order_as_written():
    r = read_prompt("Write me a Happy little jig, and of the piece with Sparkle on it")
    assert r.ignored == ["Happy", "little", "Sparkle", "it"]


def test_everything_at_once():
    r = read_prompt("A brisk Hornpipe in Bb, common time, 24 bars, on the recorder, duet", seed=1)
    assert r.chips() == {"style": "hornpipe", "key": "Bb major", "meter": "4/4", "tempo": "200 BPM", "bars": "24",
                         "instrument": "Recorder", "voices": "2"}
    assert r.said == {"style", "key", "meter", "tempo", "bars", "instrument", "voices"}
    assert r.ignored == [] and r.notices == ["the explicit meter 4/4 wins over hornpipe's 2/2"]
