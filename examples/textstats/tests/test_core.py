from textstats import word_count, words


def test_words_are_lower_case_without_punctuation() -> None:
    assert words("It's a Test, a test!") == ["it's", "a", "test", "a", "test"]


def test_word_count_counts_each_word() -> None:
    assert word_count("b a b") == {"a": 1, "b": 2}
