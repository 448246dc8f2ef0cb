"""The QA labeller (data/qa/label.py) and the data files it labels against."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

QA = Path(__file__).resolve().parents[2] / "data" / "qa"


def _load(name):
    if str(QA) not in sys.path:
        sys.path.insert(0, str(QA))
    spec = importlib.util.spec_from_file_location(f"qa_{name}", QA / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


label = _load("label")
TWAIN = ["Mark Twain", "Samuel Clemens", "Samuel Langhorne Clemens", "Twain"]
EIGHT = ["8", "eight"]


@pytest.mark.parametrize("text, expected", [
    ("  The   Great Gatsby  ", "great gatsby"),
    ("GOLD!!!", "gold"),
    ("Schrödinger", "schrodinger"),
    ("Marie Skłodowska-Curie", "marie sklodowska curie"),
    ("Shakespeare's", "shakespeare"),
    ("Tess of the d'Urbervilles", "tess of durbervilles"),
    ("H₂O", "h2o"),
    ("5,280", "5280"),
    ("pi is 3.14.", "pi is 3.14"),
    ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("an apple, a pear", "apple pear"),
])
def test_normalize(text, expected):
    assert label.normalize(text) == expected


@pytest.mark.parametrize("answer", [
    "Mark Twain", "mark twain.", "MARK TWAIN", "It was written by Samuel Clemens.",
    "Samuel Langhorne Clemens", "Twain", "Mark Twain, Samuel Clemens",
    "The author is Mark Twain (Samuel Clemens).",
])
def test_aliases_match(answer):
    assert label.is_correct(answer, TWAIN)


@pytest.mark.parametrize("answer", [
    "Charles Dickens", "Twainland", "Mark", "Samuel", "", "   ", "...",
])
def test_wrong_or_partial_names(answer):
    assert not label.is_correct(answer, TWAIN)


@pytest.mark.parametrize("answer, aliases, expected", [
    ("8", EIGHT, True),
    ("Eight.", EIGHT, True),
    ("A spider has 8 legs.", EIGHT, True),
    ("88", EIGHT, False),
    ("8.5", EIGHT, False),
    ("18", ["1812"], False),
    ("The war began in 1812.", ["18", "eighteen"], False),
    ("It sank in 1912.", ["1912"], True),
    ("3,600 seconds", ["3600"], True),
    ("twenty-eight", ["28", "twenty-eight"], True),
    ("twenty eight", ["28", "twenty-eight"], True),
    ("3", ["3.14"], False),
    ("8th", EIGHT, False),
])
def test_numbers_are_whole_tokens(answer, aliases, expected):
    assert label.is_correct(answer, aliases) is expected


@pytest.mark.parametrize("answer, aliases, expected", [
    ("Au", ["Au"], True),
    ("'Au'", ["Au"], True),
    ("The symbol is AU!", ["Au"], True),
    ("Ag", ["Au"], False),
    ("Tin", ["Sn"], False),        # "sn" is not a token of "tin"
    ("Latin", ["Tin"], False),     # whole words only
    ("The Pacific Ocean.", ["Pacific", "Pacific Ocean"], True),
    ("the United States", ["the United States", "USA"], True),
])
def test_punctuation_and_case(answer, aliases, expected):
    assert label.is_correct(answer, aliases) is expected


@pytest.mark.parametrize("answer, aliases", [
    ("Au, Ag, Cu", ["Au"]),
    ("Au or Ag", ["Au"]),
    ("It is either Au or Ag.", ["Au"]),
    ("Jupiter, Saturn, Uranus, Neptune", ["Jupiter"]),
    ("Mark Twain; Charles Dickens; Jane Austen", TWAIN),
    ("8\n10\n6", EIGHT),
    ("1914-1918", ["1914"]),
    ("1914\u20131918", ["1914"]),
    ("between 6 and 8", EIGHT),
    ("8 to 10 legs", EIGHT),
])
def test_candidate_lists_and_ranges_do_not_count(answer, aliases):
    assert not label.is_correct(answer, aliases)


def test_range_elsewhere_does_not_hide_a_plain_answer():
    assert label.is_correct("The First World War (1914-1918) began in 1914.", ["1914"])


def test_long_answers_do_not_count():
    filler = " ".join(["word"] * 24)
    assert label.is_correct(f"Au {filler}", ["Au"])                 # 25 words
    assert not label.is_correct(f"Au {filler} more", ["Au"])        # 26 words
    assert label.is_correct(f"Au {filler} more", ["Au"], max_words=30)


def test_empty_alias_list_is_an_error():
    with pytest.raises(ValueError):
        label.is_correct("Au", ["", "the"])


def test_main_labels_and_prints_per_domain_accuracy(tmp_path, capsys):
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps({"id": "elements-0001", "domain": "elements",
                    "question": "What is the chemical symbol for gold?", "answers": ["Au"]}) + "\n"
        + json.dumps({"id": "authors-0001", "domain": "authors",
                      "question": "Who wrote Tom Sawyer?", "answers": TWAIN}) + "\n")
    gens = tmp_path / "g.jsonl"
    gens.write_text("\n".join(json.dumps(g) for g in [
        {"id": "elements-0001", "answer": "Au", "extra": 1},
        {"id": "authors-0001", "answer": "Charles Dickens"},
    ]) + "\n")
    out = tmp_path / "sub" / "labelled.jsonl"
    assert label.main(["--generations", str(gens), "--questions", str(questions),
                       "--out", str(out)]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["domain"], r["correct"]) for r in recs] == [
        ("elements-0001", "elements", True), ("authors-0001", "authors", False)]
    assert recs[0]["extra"] == 1
    printed = capsys.readouterr().out
    assert "elements" in printed and "authors" in printed and "0.500" in printed


def test_unknown_id_is_an_error(tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "x-0001", "domain": "x", "question": "?",
                                     "answers": ["a b"]}) + "\n")
    gens = tmp_path / "g.jsonl"
    gens.write_text(json.dumps({"id": "x-0002", "answer": "a"}) + "\n")
    with pytest.raises(SystemExit, match="unknown question id"):
        label.main(["--generations", str(gens), "--questions", str(questions),
                    "--out", str(tmp_path / "o.jsonl")])


def test_doctests():
    import doctest
    assert doctest.testmod(label).failed == 0


# --- the data files themselves -----------------------------------------------------------------

def test_questions_pass_the_self_check():
    check = _load("check")
    per_domain, errors = check.check(QA / "questions.jsonl", QA / "passages")
    assert errors == []
    assert sum(per_domain.values()) >= 750
    assert len(per_domain) >= 5 and min(per_domain.values()) >= 140


def test_passages_are_up_to_date_and_deterministic():
    passages = _load("passages")
    files = passages.build(QA / "questions.jsonl")   # raises on any failed check
    assert files == passages.build(QA / "questions.jsonl")
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in (QA / "passages").glob("*.txt")}
    assert on_disk == files


def test_every_fact_passage_labels_its_own_question_correct():
    questions = [json.loads(line) for line in open(QA / "questions.jsonl", encoding="utf-8")]
    for q in questions:
        fact = (QA / "passages" / f"{q['id']}.txt").read_text(encoding="utf-8")
        assert label.is_correct(fact, q["answers"]), q["id"]


def test_or_between_two_right_names_is_fine():
    assert label.is_correct("Mark Twain or Samuel Clemens", TWAIN)
    assert label.is_correct("8, or eight", EIGHT)
    assert not label.is_correct("Au, or gold", ["Au"])   # documented false negative


# --- the fresh held-out domain `art` (issue 14) ------------------------------------------------

def _domain(name: str) -> dict[str, list[str]]:
    """question -> aliases of one source table (data/qa/sources/<name>.py)."""
    if str(QA) not in sys.path:
        sys.path.insert(0, str(QA))
    import importlib

    return {q["question"]: q["answers"] for q in importlib.import_module(f"sources.{name}").QUESTIONS}




@pytest.mark.parametrize("question, answer, expected", [
    ("Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo da Vinci.", True),
    ("Who painted the Mona Lisa?", "Leonardo", True),
    ("Who painted the Mona Lisa?", "Michelangelo painted the Mona Lisa.", False),
    ("Who painted The Starry Night?", "Vincent Van Gogh", True),
    ("Who painted The Starry Night?", "Paul Gauguin", False),
    ("Who painted Las Meninas?", "Diego Velazquez", True),            # accents dropped
    ("Who composed the New World Symphony?", "Antonin Dvorak", True),
    ("Who composed The Blue Danube?", "Johann Strauss II", True),
    ("Who composed The Blue Danube?", "Richard Strauss", False),       # no bare "Strauss"
    ("Who painted The Death of Marat?", "Jacques Louis David", True),
    ("Who painted The Death of Marat?", "David", False),               # no bare "David"
    ("Who painted American Gothic?", "Grant Wood", True),
    ("Who painted American Gothic?", "It is made of wood.", False),    # no bare "Wood"
    ("Who composed the opera Aida?", "Verdi or Puccini", False),       # an either/or hedge
    ("Who composed the ballet Swan Lake?", "Pyotr Ilyich Tchaikovsky", True),
    ("Which architect designed the house Fallingwater?", "Frank Lloyd Wright", True),
    ("Which architect designed the house Fallingwater?", "Frank Gehry", False),
])
def test_art_aliases_label_answers(question, answer, expected):
    assert label.is_correct(answer, _domain("art")[question]) is expected


@pytest.mark.parametrize("name", ["art", "animals"])
def test_fresh_domain_is_large_enough_and_new(name):
    """At least 120 questions, all in questions.jsonl, none asked by another domain."""
    table = _domain(name)
    assert len(table) >= 120
    questions = [json.loads(line) for line in open(QA / "questions.jsonl", encoding="utf-8")]
    assert sum(q["domain"] == name for q in questions) == len(table)
    others = {q["question"] for q in questions if q["domain"] != name}
    assert not others & set(table)


def test_no_other_domain_asks_who_made_a_work_of_art():
    questions = [json.loads(line) for line in open(QA / "questions.jsonl", encoding="utf-8")]
    assert not any(q["question"].startswith(("Who painted", "Who composed", "Who sculpted"))
                   for q in questions if q["domain"] != "art")


@pytest.mark.parametrize("question, answer, expected", [
    ("What sound does a cow make?", "A cow says 'moo'.", True),
    ("What sound does a cow make?", "A low rumbling sound.", False),      # no "low" alias
    ("What is a young dog called?", "A young dog is called a puppy.", True),
    ("What is a young dog called?", "A kitten", False),
    ("What is a fox's underground home called?", "It lives deep in the earth.", False),  # no "earth" alias
    ("What is a fox's underground home called?", "A den", True),
    ("What class of animals does a bat belong to?", "Bats are mammals.", True),
    ("What class of animals does a bat belong to?", "A bat is a bird.", False),
    ("What is a male duck called?", "A drake", True),
    ("What is a group of geese on the ground called?", "A gaggle of geese", True),
    ("What is the mound that termites build called?", "The mound that termites build is called a nest.", False),
])
def test_animals_aliases_label_answers(question, answer, expected):
    assert label.is_correct(answer, _domain("animals")[question]) is expected
