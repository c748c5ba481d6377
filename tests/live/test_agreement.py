"""LocalAgreement-2 on word sequences (no model needed)."""

from engine.live.agreement import LocalAgreement, Word, split_words

VOCAB = {1: " The", 2: " birch", 3: " ca", 4: "noe", 5: " slid", 6: ".", 7: " on", 8: " Birch", 9: " sl"}


def decode(tokens):
    return "".join(VOCAB[t] for t in tokens)


def words(*tokens_per_word):
    return [Word(tuple(t), decode(t)) for t in tokens_per_word]


def test_split_words_groups_pieces_at_leading_spaces():
    got = split_words([1, 2, 3, 4, 5, 6], decode)
    assert [w.text for w in got] == [" The", " birch", " canoe", " slid."]
    assert got[2].tokens == (3, 4)


def test_commits_only_what_two_hypotheses_in_a_row_agree_on():
    la = LocalAgreement()
    assert la.update(words([1], [2])) == []  # nothing to agree with yet
    assert [w.text for w in la.tentative] == [" The", " birch"]
    newly = la.update(words([1], [2], [3, 4]))
    assert [w.text for w in newly] == [" The", " birch"]
    assert [w.text for w in la.tentative] == [" canoe"]
    assert la.prefix_tokens() == [1, 2]
    # the continuation disagrees on its first word: nothing more is committed
    assert la.update(words([5])) == []
    assert [w.text for w in la.tentative] == [" slid"]


def test_case_and_punctuation_do_not_block_agreement_and_the_newer_spelling_is_kept():
    la = LocalAgreement()
    la.update(words([2]))
    newly = la.update(words([8, 6]))  # " birch" then " Birch."
    assert [w.text for w in newly] == [" Birch."]


def test_a_changed_word_stops_agreement_there():
    la = LocalAgreement()
    la.update(words([1], [9], [7]))  # The sl on
    newly = la.update(words([1], [5], [7]))  # The slid on
    assert [w.text for w in newly] == [" The"]
    assert [w.text for w in la.tentative] == [" slid", " on"]


def test_commit_all_and_reset():
    la = LocalAgreement()
    la.update(words([1]))
    la.commit_all(words([1], [2]))
    assert la.prefix_tokens() == [1, 2] and la.tentative == []
    la.reset()
    assert la.prefix_tokens() == [] and la.committed == []
