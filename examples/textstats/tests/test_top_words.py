from textstats import top_words


def test_the_most_frequent_words_come_first() -> None:
    assert top_words("the cat and the hat and the bat", 2) == [("the", 3), ("and", 2)]


def test_ties_are_in_alphabetical_order() -> None:
    assert top_words("b a c b a c d", 3) == [("a", 2), ("b", 2), ("c", 2)]


def test_case_and_punctuation_do_not_matter() -> None:
    assert top_words("Dog. dog, DOG! cat?", 5) == [("dog", 3), ("cat", 1)]


def test_no_words_asked_for_gives_none() -> None:
    assert top_words("a b c", 0) == []
