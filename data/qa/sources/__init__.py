"""Hand-written source tables for the QA set (written by the project).

Each domain module exposes ``QUESTIONS`` (a list of dicts with ``question``, ``answers``,
``fact`` and ``subject``) and ``DISTRACTORS`` (a list of true sentences about entities that no
question asks about). ``build_questions.py`` and ``passages.py`` turn them into the data files.
"""

DOMAINS = ("elements", "authors", "geography", "science", "numbers", "art", "animals", "mythology", "food", "sports")
