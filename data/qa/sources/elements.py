"""Chemical elements: symbols <-> names, atomic numbers of the first 40."""

from .common import num, q

# (atomic number, name, symbol, other spellings of the name)
TABLE = [
    (1, "Hydrogen", "H", ()), (2, "Helium", "He", ()), (3, "Lithium", "Li", ()),
    (4, "Beryllium", "Be", ()), (5, "Boron", "B", ()), (6, "Carbon", "C", ()),
    (7, "Nitrogen", "N", ()), (8, "Oxygen", "O", ()), (9, "Fluorine", "F", ()),
    (10, "Neon", "Ne", ()), (11, "Sodium", "Na", ()), (12, "Magnesium", "Mg", ()),
    (13, "Aluminium", "Al", ("Aluminum",)), (14, "Silicon", "Si", ()),
    (15, "Phosphorus", "P", ()), (16, "Sulfur", "S", ("Sulphur",)), (17, "Chlorine", "Cl", ()),
    (18, "Argon", "Ar", ()), (19, "Potassium", "K", ()), (20, "Calcium", "Ca", ()),
    (21, "Scandium", "Sc", ()), (22, "Titanium", "Ti", ()), (23, "Vanadium", "V", ()),
    (24, "Chromium", "Cr", ()), (25, "Manganese", "Mn", ()), (26, "Iron", "Fe", ()),
    (27, "Cobalt", "Co", ()), (28, "Nickel", "Ni", ()), (29, "Copper", "Cu", ()),
    (30, "Zinc", "Zn", ()), (31, "Gallium", "Ga", ()), (32, "Germanium", "Ge", ()),
    (33, "Arsenic", "As", ()), (34, "Selenium", "Se", ()), (35, "Bromine", "Br", ()),
    (36, "Krypton", "Kr", ()), (37, "Rubidium", "Rb", ()), (38, "Strontium", "Sr", ()),
    (39, "Yttrium", "Y", ()), (40, "Zirconium", "Zr", ()),
    (47, "Silver", "Ag", ()), (48, "Cadmium", "Cd", ()), (50, "Tin", "Sn", ()),
    (51, "Antimony", "Sb", ()), (53, "Iodine", "I", ()), (54, "Xenon", "Xe", ()),
    (55, "Caesium", "Cs", ("Cesium",)), (56, "Barium", "Ba", ()),
    (74, "Tungsten", "W", ("Wolfram",)), (77, "Iridium", "Ir", ()), (78, "Platinum", "Pt", ()),
    (79, "Gold", "Au", ()), (80, "Mercury", "Hg", ()), (82, "Lead", "Pb", ()),
    (83, "Bismuth", "Bi", ()), (86, "Radon", "Rn", ()), (88, "Radium", "Ra", ()),
    (92, "Uranium", "U", ()), (94, "Plutonium", "Pu", ()),
]
BY_SYMBOL = {s: (n, name, alt) for n, name, s, alt in TABLE}

# Symbols that are ordinary English words (He, Be, As, I) are never asked for as answers:
# "he", "be", "as" and "I" turn up in wrong answers and would be matched.
SYMBOL_FOR_NAME = [s for n, _, s, _ in TABLE if n <= 40 and s not in ("He", "Be", "As")] + [
    "Ag", "Sn", "Au", "Hg", "Pb", "W", "Pt", "U"]
NAME_FOR_SYMBOL = ["He", "Li", "Be", "B", "Na", "Mg", "Al", "Si", "P", "Cl", "K", "Ca", "Ti",
                   "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "As",
                   "Ag", "Cd", "Sn", "Sb", "I", "Xe", "Cs", "Ba", "W", "Ir", "Pt", "Au", "Hg",
                   "Pb", "Bi", "Rn", "Ra", "U", "Pu"]
NUMBER_FOR_NAME = [s for n, _, s, _ in TABLE if n <= 40]
NAME_FOR_NUMBER = [s for n, _, s, _ in TABLE if n <= 30]


def _names(sym):
    _, name, alt = BY_SYMBOL[sym]
    return [name, *alt]


def _questions():
    out = []
    for s in SYMBOL_FOR_NAME:
        n, name, _ = BY_SYMBOL[s]
        out.append(q(f"What is the chemical symbol for {name.lower()}?", [s],
                     f"The chemical symbol for {name.lower()} is {s}. {name} has atomic number {n}.",
                     name))
    for s in NAME_FOR_SYMBOL:
        n, name, _ = BY_SYMBOL[s]
        out.append(q(f"Which chemical element has the symbol {s}?", _names(s),
                     f"{name} is a chemical element with the symbol {s} and atomic number {n}.",
                     name))
    for s in NUMBER_FOR_NAME:
        n, name, _ = BY_SYMBOL[s]
        out.append(q(f"What is the atomic number of {name.lower()}?", num(n),
                     f"The atomic number of {name.lower()} is {n}; its chemical symbol is {s}.",
                     name))
    for s in NAME_FOR_NUMBER:
        n, name, _ = BY_SYMBOL[s]
        out.append(q(f"Which chemical element has atomic number {n}?", _names(s),
                     f"{name} is the chemical element with atomic number {n}.", name))
    return out


QUESTIONS = _questions()

# Elements no question asks about: (number, name, symbol, family)
_OTHER = [
    (41, "Niobium", "Nb", "a transition metal"), (42, "Molybdenum", "Mo", "a transition metal"),
    (43, "Technetium", "Tc", "a transition metal"), (44, "Ruthenium", "Ru", "a transition metal"),
    (45, "Rhodium", "Rh", "a transition metal"), (46, "Palladium", "Pd", "a transition metal"),
    (49, "Indium", "In", "a post-transition metal"), (52, "Tellurium", "Te", "a metalloid"),
    (57, "Lanthanum", "La", "a lanthanide"), (58, "Cerium", "Ce", "a lanthanide"),
    (59, "Praseodymium", "Pr", "a lanthanide"), (60, "Neodymium", "Nd", "a lanthanide"),
    (61, "Promethium", "Pm", "a lanthanide"), (62, "Samarium", "Sm", "a lanthanide"),
    (63, "Europium", "Eu", "a lanthanide"), (64, "Gadolinium", "Gd", "a lanthanide"),
    (65, "Terbium", "Tb", "a lanthanide"), (66, "Dysprosium", "Dy", "a lanthanide"),
    (67, "Holmium", "Ho", "a lanthanide"), (68, "Erbium", "Er", "a lanthanide"),
    (69, "Thulium", "Tm", "a lanthanide"), (70, "Ytterbium", "Yb", "a lanthanide"),
    (71, "Lutetium", "Lu", "a lanthanide"), (72, "Hafnium", "Hf", "a transition metal"),
    (73, "Tantalum", "Ta", "a transition metal"), (75, "Rhenium", "Re", "a transition metal"),
    (76, "Osmium", "Os", "a transition metal"), (81, "Thallium", "Tl", "a post-transition metal"),
    (84, "Polonium", "Po", "a radioactive element"), (85, "Astatine", "At", "a halogen"),
    (87, "Francium", "Fr", "an alkali metal"), (89, "Actinium", "Ac", "an actinide"),
    (90, "Thorium", "Th", "an actinide"), (91, "Protactinium", "Pa", "an actinide"),
    (93, "Neptunium", "Np", "an actinide"), (95, "Americium", "Am", "an actinide"),
    (96, "Curium", "Cm", "an actinide"), (97, "Berkelium", "Bk", "an actinide"),
    (98, "Californium", "Cf", "an actinide"), (99, "Einsteinium", "Es", "an actinide"),
    (100, "Fermium", "Fm", "an actinide"), (101, "Mendelevium", "Md", "an actinide"),
    (102, "Nobelium", "No", "an actinide"), (103, "Lawrencium", "Lr", "an actinide"),
]
OTHER_NAMES = [name for _, name, _, _ in _OTHER]

DISTRACTORS = []
for _n, _name, _s, _fam in _OTHER:
    DISTRACTORS.append(f"{_name} is a chemical element with the symbol {_s} and atomic number {_n}.")
    DISTRACTORS.append(f"The element with atomic number {_n} is {_name.lower()}, written {_s} in "
                       f"the periodic table.")
    DISTRACTORS.append(f"{_name} is {_fam}; its atomic number is {_n}.")
