"""benchmarks/time_to_quality.py's argument handling (the runs themselves are benchmarks)."""
import pytest


def test_budgets_one_for_all_or_per_recipe(load_benchmark):
    parse = load_benchmark("time_to_quality").parse_budgets
    recipes = ["paper", "default"]
    assert parse([], recipes) == {"paper": None, "default": None}
    assert parse(["600"], recipes) == {"paper": 600.0, "default": 600.0}
    assert parse(["paper=1200"], recipes) == {"paper": 1200.0, "default": None}
    # a later word overrides an earlier one for the recipes it names
    assert parse(["300", "default=90"], recipes) == {"paper": 300.0, "default": 90.0}


@pytest.mark.parametrize(("word", "message"), [
    ("fast=10", "unknown recipe 'fast'"), ("paper=soon", "expected SECONDS"),
    ("-5", "positive"), ("paper=0", "positive")])
def test_bad_budgets_are_refused_with_the_word(word, message, load_benchmark):
    with pytest.raises(SystemExit, match=message):
        load_benchmark("time_to_quality").parse_budgets([word], ["paper", "default"])
