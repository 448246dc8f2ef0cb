"""Art: who painted a famous painting, composed a famous piece of music, or made a famous
sculpture or building.

A fresh held-out domain (issue 14): written after the shipped scorer had been judged on
`numbers`, and committed before any scorer was run on it. No other domain asks who made a work
of art; landmarks already asked about in `geography` (the Statue of Liberty, Christ the
Redeemer, the Sagrada Família, Mount Rushmore, the Eiffel Tower, the Sydney Opera House) are
left out.

Bare surnames are aliases only where they are distinctive (no "Wood", "David", "Strauss",
"Bruegel" without the elder, "Piano"); accents are dropped by the labeller, so "Velázquez" also
matches "Velazquez".
"""

from .common import q

LEONARDO = ["Leonardo da Vinci", "da Vinci", "Leonardo"]
VAN_GOGH = ["Vincent van Gogh", "van Gogh"]
PICASSO = ["Pablo Picasso", "Picasso"]
DALI = ["Salvador Dalí", "Dalí"]
VERMEER = ["Johannes Vermeer", "Vermeer", "Jan Vermeer"]
REMBRANDT = ["Rembrandt", "Rembrandt van Rijn", "Rembrandt Harmenszoon van Rijn"]
BOTTICELLI = ["Sandro Botticelli", "Botticelli"]
MICHELANGELO = ["Michelangelo", "Michelangelo Buonarroti"]
RAPHAEL = ["Raphael", "Raffaello Sanzio", "Raffaello"]
MONET = ["Claude Monet", "Monet"]
MAGRITTE = ["René Magritte", "Magritte"]
SEURAT = ["Georges Seurat", "Seurat"]
RENOIR = ["Pierre-Auguste Renoir", "Auguste Renoir", "Renoir"]
CEZANNE = ["Paul Cézanne", "Cézanne"]
MANET = ["Édouard Manet", "Manet"]
GOYA = ["Francisco Goya", "Goya", "Francisco de Goya"]
DELACROIX = ["Eugène Delacroix", "Delacroix"]
WARHOL = ["Andy Warhol", "Warhol"]
JL_DAVID = ["Jacques-Louis David"]
MILLET = ["Jean-François Millet", "Millet"]
TITIAN = ["Titian", "Tiziano Vecellio", "Tiziano"]
BRUEGEL = ["Pieter Bruegel the Elder", "Pieter Bruegel", "Pieter Brueghel", "Bruegel the Elder"]
MOZART = ["Wolfgang Amadeus Mozart", "Mozart"]
BEETHOVEN = ["Ludwig van Beethoven", "Beethoven"]
BACH = ["Johann Sebastian Bach", "J. S. Bach", "J.S. Bach", "Bach"]
HANDEL = ["George Frideric Handel", "Handel", "Georg Friedrich Händel"]
TCHAIKOVSKY = ["Pyotr Ilyich Tchaikovsky", "Tchaikovsky", "Peter Ilyich Tchaikovsky", "Tchaikovski"]
STRAVINSKY = ["Igor Stravinsky", "Stravinsky"]
VERDI = ["Giuseppe Verdi", "Verdi"]
PUCCINI = ["Giacomo Puccini", "Puccini"]
ROSSINI = ["Gioachino Rossini", "Rossini", "Gioacchino Rossini"]
WAGNER = ["Richard Wagner", "Wagner"]
MUSSORGSKY = ["Modest Mussorgsky", "Mussorgsky", "Musorgsky"]
SAINT_SAENS = ["Camille Saint-Saëns", "Saint-Saëns"]
GERSHWIN = ["George Gershwin", "Gershwin"]
ELGAR = ["Edward Elgar", "Elgar", "Sir Edward Elgar"]
RODIN = ["Auguste Rodin", "Rodin"]
WRIGHT = ["Frank Lloyd Wright"]

# (work, kind, makers): kind picks the question's verb
PAINTINGS = [
    ("the Mona Lisa", LEONARDO), ("The Last Supper", LEONARDO), ("Lady with an Ermine", LEONARDO),
    ("The Starry Night", VAN_GOGH), ("The Potato Eaters", VAN_GOGH),
    ("Café Terrace at Night", VAN_GOGH), ("Irises", VAN_GOGH),
    ("The Scream", ["Edvard Munch", "Munch"]),
    ("Guernica", PICASSO), ("Les Demoiselles d'Avignon", PICASSO), ("The Old Guitarist", PICASSO),
    ("The Weeping Woman", PICASSO),
    ("The Persistence of Memory", DALI), ("Swans Reflecting Elephants", DALI),
    ("Girl with a Pearl Earring", VERMEER), ("The Milkmaid", VERMEER),
    ("The Night Watch", REMBRANDT), ("The Anatomy Lesson of Dr. Nicolaes Tulp", REMBRANDT),
    ("The Birth of Venus", BOTTICELLI), ("Primavera", BOTTICELLI),
    ("The School of Athens", RAPHAEL), ("The Sistine Madonna", RAPHAEL),
    ("Water Lilies", MONET), ("Impression, Sunrise", MONET),
    ("American Gothic", ["Grant Wood"]),
    ("Nighthawks", ["Edward Hopper", "Hopper"]),
    ("The Great Wave off Kanagawa", ["Katsushika Hokusai", "Hokusai"]),
    ("The Garden of Earthly Delights", ["Hieronymus Bosch", "Bosch", "Jheronimus Bosch"]),
    ("Las Meninas", ["Diego Velázquez", "Velázquez", "Diego Rodríguez de Silva y Velázquez"]),
    ("The Third of May 1808", GOYA), ("Saturn Devouring His Son", GOYA),
    ("Liberty Leading the People", DELACROIX), ("The Massacre at Chios", DELACROIX),
    ("The Arnolfini Portrait", ["Jan van Eyck", "van Eyck"]),
    ("The Hay Wain", ["John Constable", "Constable"]),
    ("The Fighting Temeraire", ["J. M. W. Turner", "J.M.W. Turner", "Joseph Mallord William Turner",
                                "William Turner", "Turner"]),
    ("Campbell's Soup Cans", WARHOL), ("Marilyn Diptych", WARHOL),
    ("Autumn Rhythm", ["Jackson Pollock", "Pollock"]),
    ("The Son of Man", MAGRITTE), ("The Treachery of Images", MAGRITTE),
    ("A Sunday Afternoon on the Island of La Grande Jatte", SEURAT), ("Bathers at Asnières", SEURAT),
    ("Luncheon of the Boating Party", RENOIR), ("Bal du moulin de la Galette", RENOIR),
    ("The Card Players", CEZANNE), ("The Basket of Apples", CEZANNE),
    ("Vision after the Sermon", ["Paul Gauguin", "Gauguin"]),
    ("Whistler's Mother", ["James McNeill Whistler", "James Abbott McNeill Whistler", "Whistler"]),
    ("Olympia", MANET), ("Le Déjeuner sur l'herbe", MANET), ("A Bar at the Folies-Bergère", MANET),
    ("The Dance Class", ["Edgar Degas", "Degas"]),
    ("Composition with Red, Blue and Yellow", ["Piet Mondrian", "Mondrian"]),
    ("The Two Fridas", ["Frida Kahlo", "Kahlo"]),
    ("Christina's World", ["Andrew Wyeth", "Wyeth"]),
    ("The Raft of the Medusa", ["Théodore Géricault", "Géricault"]),
    ("The Ambassadors", ["Hans Holbein the Younger", "Hans Holbein", "Holbein"]),
    ("The Hunters in the Snow", BRUEGEL), ("The Tower of Babel", BRUEGEL),
    ("Wanderer above the Sea of Fog", ["Caspar David Friedrich"]),
    ("The Sleeping Gypsy", ["Henri Rousseau", "Rousseau"]),
    ("Black Square", ["Kazimir Malevich", "Malevich"]),
    ("Composition VIII", ["Wassily Kandinsky", "Kandinsky", "Vasily Kandinsky"]),
    ("I and the Village", ["Marc Chagall", "Chagall"]),
    ("The Blue Boy", ["Thomas Gainsborough", "Gainsborough"]),
    ("The Calling of Saint Matthew", ["Caravaggio", "Michelangelo Merisi da Caravaggio"]),
    ("Washington Crossing the Delaware", ["Emanuel Leutze", "Leutze"]),
    ("The Lady of Shalott", ["John William Waterhouse", "Waterhouse"]),
    ("The Laughing Cavalier", ["Frans Hals"]),
    ("Venus of Urbino", TITIAN), ("Bacchus and Ariadne", TITIAN),
    ("The Death of Marat", JL_DAVID), ("Oath of the Horatii", JL_DAVID),
    ("Grande Odalisque", ["Jean-Auguste-Dominique Ingres", "Ingres"]),
    ("The Gleaners", MILLET), ("The Angelus", MILLET),
    ("Paris Street; Rainy Day", ["Gustave Caillebotte", "Caillebotte"]),
    ("The Child's Bath", ["Mary Cassatt", "Cassatt"]),
]

MUSIC = [
    ("The Magic Flute", "opera", MOZART), ("The Marriage of Figaro", "opera", MOZART),
    ("Eine kleine Nachtmusik", "serenade", MOZART),
    ("the Moonlight Sonata", "piano sonata", BEETHOVEN), ("Für Elise", "piano piece", BEETHOVEN),
    ("The Four Seasons", "set of violin concertos", ["Antonio Vivaldi", "Vivaldi"]),
    ("The Nutcracker", "ballet", TCHAIKOVSKY), ("Swan Lake", "ballet", TCHAIKOVSKY),
    ("the 1812 Overture", "overture", TCHAIKOVSKY),
    ("The Rite of Spring", "ballet", STRAVINSKY), ("The Firebird", "ballet", STRAVINSKY),
    ("Boléro", "orchestral piece", ["Maurice Ravel", "Ravel"]),
    ("Clair de lune", "piano piece", ["Claude Debussy", "Debussy"]),
    ("The Blue Danube", "waltz", ["Johann Strauss II", "Johann Strauss", "Johann Strauss the Younger"]),
    ("the Brandenburg Concertos", "set of concertos", BACH),
    ("The Well-Tempered Clavier", "collection of keyboard music", BACH),
    ("the Goldberg Variations", "set of keyboard variations", BACH),
    ("Messiah", "oratorio", HANDEL), ("Water Music", "orchestral suite", HANDEL),
    ("Carmen", "opera", ["Georges Bizet", "Bizet"]),
    ("La traviata", "opera", VERDI), ("Aida", "opera", VERDI), ("Rigoletto", "opera", VERDI),
    ("La bohème", "opera", PUCCINI), ("Madama Butterfly", "opera", PUCCINI), ("Turandot", "opera", PUCCINI),
    ("Rhapsody in Blue", "orchestral piece", GERSHWIN), ("Porgy and Bess", "opera", GERSHWIN),
    ("The Planets", "orchestral suite", ["Gustav Holst", "Holst"]),
    ("The Barber of Seville", "opera", ROSSINI), ("William Tell", "opera", ROSSINI),
    ("Ride of the Valkyries", "orchestral piece", WAGNER), ("Tristan und Isolde", "opera", WAGNER),
    ("Peer Gynt", "incidental music", ["Edvard Grieg", "Grieg"]),
    ("Pictures at an Exhibition", "piano suite", MUSSORGSKY),
    ("Night on Bald Mountain", "orchestral piece", MUSSORGSKY),
    ("The Carnival of the Animals", "musical suite", SAINT_SAENS),
    ("Danse macabre", "symphonic poem", SAINT_SAENS),
    ("the Minute Waltz", "piano waltz", ["Frédéric Chopin", "Chopin"]),
    ("Gymnopédies", "set of piano pieces", ["Erik Satie", "Satie"]),
    ("Canon in D", "piece", ["Johann Pachelbel", "Pachelbel"]),
    ("the New World Symphony", "symphony", ["Antonín Dvořák", "Dvořák"]),
    ("Finlandia", "symphonic poem", ["Jean Sibelius", "Sibelius"]),
    ("The Lark Ascending", "piece for violin and orchestra", ["Ralph Vaughan Williams", "Vaughan Williams"]),
    ("the Pomp and Circumstance Marches", "set of marches", ELGAR),
    ("the Enigma Variations", "orchestral work", ELGAR),
    ("Peter and the Wolf", "musical tale for children", ["Sergei Prokofiev", "Prokofiev", "Sergey Prokofiev"]),
    ("Carmina Burana", "cantata", ["Carl Orff", "Orff"]),
    ("Adagio for Strings", "piece", ["Samuel Barber"]),
    ("Dido and Aeneas", "opera", ["Henry Purcell", "Purcell"]),
    ("Symphonie fantastique", "symphony", ["Hector Berlioz", "Berlioz"]),
    ("The Sorcerer's Apprentice", "symphonic poem", ["Paul Dukas", "Dukas"]),
    ("the Trout Quintet", "piano quintet", ["Franz Schubert", "Schubert"]),
    ("The Moldau", "symphonic poem", ["Bedřich Smetana", "Smetana"]),
    ("West Side Story", "musical", ["Leonard Bernstein", "Bernstein"]),
]

# (question, makers, fact, subject): sculpture and buildings
MADE = [
    ("Who sculpted the marble statue of David that stands in Florence?", MICHELANGELO,
     "The marble statue of David in Florence was sculpted by Michelangelo.", "statue of David"),
    ("Who sculpted the Pietà in St. Peter's Basilica?", MICHELANGELO,
     "The Pietà in St. Peter's Basilica was sculpted by Michelangelo.", "Pietà"),
    ("Who painted The Kiss, the gold-leaf painting of an embracing couple from 1908?",
     ["Gustav Klimt", "Klimt"], "The Kiss, a gold-leaf painting of 1908, was painted by Gustav Klimt.", "gold-leaf"),
    ("Who painted Dance, the 1910 painting of five red nude figures dancing in a ring?",
     ["Henri Matisse", "Matisse"], "Dance, the 1910 painting of five red figures in a ring, was painted by Henri Matisse.",
     "five red"),
    ("Who painted the Rococo painting The Swing, showing a young woman on a swing in a garden?",
     ["Jean-Honoré Fragonard", "Fragonard"], "The Swing, a Rococo painting, was painted by Jean-Honoré Fragonard.",
     "Rococo"),
    ("Who painted the ceiling of the Sistine Chapel?", MICHELANGELO,
     "The ceiling of the Sistine Chapel was painted by Michelangelo.", "Sistine Chapel"),
    ("Who sculpted The Thinker?", RODIN, "The Thinker is a sculpture by Auguste Rodin.", "The Thinker"),
    ("Who sculpted The Burghers of Calais?", RODIN,
     "The Burghers of Calais is a sculpture by Auguste Rodin.", "Burghers of Calais"),
    ("Who sculpted The Ecstasy of Saint Teresa?", ["Gian Lorenzo Bernini", "Bernini"],
     "The Ecstasy of Saint Teresa is a sculpture by Gian Lorenzo Bernini.", "Ecstasy of Saint Teresa"),
    ("Who made the bronze statue Perseus with the Head of Medusa in Florence?",
     ["Benvenuto Cellini", "Cellini"],
     "Perseus with the Head of Medusa is a bronze statue by Benvenuto Cellini.", "Perseus"),
    ("Who sculpted Walking Man, the thin bronze figure of a striding man?",
     ["Alberto Giacometti", "Giacometti"],
     "Walking Man is a bronze sculpture by Alberto Giacometti.", "Walking Man"),
    ("Which artist made the stainless steel sculpture Balloon Dog?", ["Jeff Koons", "Koons"],
     "Balloon Dog is a sculpture by Jeff Koons.", "Balloon Dog"),
    ("Which artist made the sculpture Angel of the North?", ["Antony Gormley", "Gormley"],
     "Angel of the North is a sculpture by Antony Gormley.", "Angel of the North"),
    ("Which artist made the Chicago sculpture Cloud Gate, known as The Bean?", ["Anish Kapoor", "Kapoor"],
     "Cloud Gate is a sculpture by Anish Kapoor.", "Cloud Gate"),
    ("Which artist made the giant spider sculpture Maman?", ["Louise Bourgeois", "Bourgeois"],
     "Maman is a spider sculpture by Louise Bourgeois.", "Maman"),
    ("Which artist submitted a urinal titled Fountain as a work of art in 1917?", ["Marcel Duchamp", "Duchamp"],
     "Fountain, a urinal submitted as a work of art in 1917, is by Marcel Duchamp.", "urinal"),
    ("Which artist made the shark in formaldehyde titled The Physical Impossibility of Death in the Mind "
     "of Someone Living?", ["Damien Hirst", "Hirst"],
     "The Physical Impossibility of Death in the Mind of Someone Living is an artwork by Damien Hirst.",
     "Physical Impossibility of Death"),
    ("Which architect designed the house Fallingwater?", WRIGHT,
     "The house Fallingwater was designed by Frank Lloyd Wright.", "Fallingwater"),
    ("Which architect designed the Solomon R. Guggenheim Museum in New York?", WRIGHT,
     "The Solomon R. Guggenheim Museum in New York was designed by Frank Lloyd Wright.",
     "Guggenheim Museum in New York"),
    ("Which architect designed the Guggenheim Museum Bilbao?", ["Frank Gehry", "Gehry"],
     "The Guggenheim Museum Bilbao was designed by Frank Gehry.", "Guggenheim Museum Bilbao"),
    ("Which architect designed the glass pyramid of the Louvre?", ["I. M. Pei", "I.M. Pei", "Ieoh Ming Pei"],
     "The glass pyramid of the Louvre was designed by I. M. Pei.", "pyramid of the Louvre"),
    ("Which architect designed St Paul's Cathedral in London after the Great Fire?",
     ["Christopher Wren", "Sir Christopher Wren", "Wren"],
     "St Paul's Cathedral in London was designed by Christopher Wren.", "St Paul's Cathedral"),
    ("Which architect designed the Villa Savoye?", ["Le Corbusier", "Corbusier", "Charles-Édouard Jeanneret"],
     "The Villa Savoye was designed by Le Corbusier.", "Villa Savoye"),
    ("Who designed the dome of Florence Cathedral?", ["Filippo Brunelleschi", "Brunelleschi"],
     "The dome of Florence Cathedral was designed by Filippo Brunelleschi.", "dome of Florence Cathedral"),
    ("Which architect designed the Seagram Building in New York?",
     ["Ludwig Mies van der Rohe", "Mies van der Rohe", "Mies"],
     "The Seagram Building in New York was designed by Ludwig Mies van der Rohe.", "Seagram Building"),
    ("Which two architects designed the Centre Pompidou in Paris?",
     ["Renzo Piano", "Richard Rogers"],
     "The Centre Pompidou in Paris was designed by Renzo Piano and Richard Rogers.", "Centre Pompidou"),
]

MUSIC_FORMS = {"opera": "Who composed the opera {t}?", "ballet": "Who composed the ballet {t}?",
               "symphony": "Who composed {t}?"}


def _title(work: str) -> str:
    """A work's title at the start of a sentence."""
    return work[0].upper() + work[1:]


def _questions() -> list[dict]:
    out = []
    for work, makers in PAINTINGS:
        out.append(q(f"Who painted {work}?", makers, f"{_title(work)} was painted by {makers[0]}.", work))
    for work, kind, makers in MUSIC:
        form = MUSIC_FORMS.get(kind, "Who composed {t}?")
        article = "an" if kind[0] in "aeiou" else "a"
        out.append(q(form.format(t=work), makers, f"{_title(work)} is {article} {kind} composed by {makers[0]}.",
                     work))
    for question, makers, fact, subject in MADE:
        out.append(q(question, makers, fact, subject))
    return out


QUESTIONS = _questions()

# Works no question asks about: (work, kind, maker). Two phrasings each, as in authors.
OTHER = [
    ("The Annunciation", "painting", "Fra Angelico"), ("The Three Philosophers", "painting", "Giorgione"),
    ("The Bedroom", "painting", "Vincent van Gogh"), ("The Church at Auvers", "painting", "Vincent van Gogh"),
    ("The Frugal Repast", "etching", "Pablo Picasso"), ("The Elephants", "painting", "Salvador Dalí"),
    ("View of Delft", "painting", "Johannes Vermeer"), ("The Jewish Bride", "painting", "Rembrandt"),
    ("Madonna of the Magnificat", "painting", "Sandro Botticelli"),
    ("The Transfiguration", "painting", "Raphael"), ("Woman with a Parasol", "painting", "Claude Monet"),
    ("Christina Olson in a Doorway", "drawing", "Andrew Wyeth"), ("Automat", "painting", "Edward Hopper"),
    ("Red Fuji", "woodblock print", "Katsushika Hokusai"), ("The Haywain Triptych", "painting", "Hieronymus Bosch"),
    ("The Surrender of Breda", "painting", "Diego Velázquez"), ("The Clothed Maja", "painting", "Francisco Goya"),
    ("The Death of Sardanapalus", "painting", "Eugène Delacroix"),
    ("The Ghent Altarpiece", "altarpiece", "Jan van Eyck and Hubert van Eyck"),
    ("Flatford Mill", "painting", "John Constable"),
    ("Rain, Steam and Speed", "painting", "J. M. W. Turner"), ("Shot Marilyns", "series of paintings", "Andy Warhol"),
    ("Blue Poles", "painting", "Jackson Pollock"), ("Golconda", "painting", "René Magritte"),
    ("The Circus", "painting", "Georges Seurat"), ("The Umbrellas", "painting", "Pierre-Auguste Renoir"),
    ("Pyramid of Skulls", "painting", "Paul Cézanne"), ("Tahitian Women on the Beach", "painting", "Paul Gauguin"),
    ("Nocturne in Black and Gold", "painting", "James McNeill Whistler"),
    ("The Railway", "painting", "Édouard Manet"), ("L'Absinthe", "painting", "Edgar Degas"),
    ("Broadway Boogie-Woogie", "painting", "Piet Mondrian"),
    ("Self-Portrait with Thorn Necklace and Hummingbird", "painting", "Frida Kahlo"),
    ("The Lovers", "painting", "René Magritte"), ("The Meeting", "painting", "Jean-Honoré Fragonard"),
    ("Portrait of Henry VIII", "painting", "Hans Holbein the Younger"),
    ("The Peasant Wedding", "painting", "Pieter Bruegel the Elder"),
    ("The Abbey in the Oakwood", "painting", "Caspar David Friedrich"),
    ("The Dream", "painting", "Henri Rousseau"), ("The Red Studio", "painting", "Henri Matisse"),
    ("Suprematist Composition: White on White", "painting", "Kazimir Malevich"),
    ("Yellow-Red-Blue", "painting", "Wassily Kandinsky"), ("The Fiddler", "painting", "Marc Chagall"),
    ("Mr and Mrs Andrews", "painting", "Thomas Gainsborough"),
    ("The Conversion of Saint Paul", "painting", "Caravaggio"),
    ("The Lady of the Lake", "painting", "John William Waterhouse"),
    ("The Blind Girl", "painting", "John Everett Millais"), ("The Gypsy Girl", "painting", "Frans Hals"),
    ("Assumption of the Virgin", "altarpiece", "Titian"), ("The Coronation of Napoleon", "painting", "Jacques-Louis David"),
    ("La Source", "painting", "Jean-Auguste-Dominique Ingres"), ("The Sower", "painting", "Jean-François Millet"),
    ("The Floor Scrapers", "painting", "Gustave Caillebotte"), ("Little Girl in a Blue Armchair", "painting", "Mary Cassatt"),
    ("Portrait of Adele Bloch-Bauer I", "painting", "Gustav Klimt"), ("The Sick Child", "painting", "Edvard Munch"),
    ("The Absinthe Drinker", "painting", "Édouard Manet"), ("Judith Slaying Holofernes", "painting", "Artemisia Gentileschi"),
    ("The Arrival of Spring in Woldgate", "painting", "David Hockney"), ("A Bigger Splash", "painting", "David Hockney"),
    ("Don Giovanni", "opera", "Wolfgang Amadeus Mozart"), ("the Eroica Symphony", "symphony", "Ludwig van Beethoven"),
    ("Gloria in D major", "sacred work", "Antonio Vivaldi"), ("The Sleeping Beauty", "ballet", "Pyotr Ilyich Tchaikovsky"),
    ("Petrushka", "ballet", "Igor Stravinsky"), ("Daphnis et Chloé", "ballet", "Maurice Ravel"),
    ("La Mer", "orchestral work", "Claude Debussy"), ("the Radetzky March", "march", "Johann Strauss I"),
    ("the St Matthew Passion", "oratorio", "Johann Sebastian Bach"),
    ("Music for the Royal Fireworks", "orchestral suite", "George Frideric Handel"),
    ("Les pêcheurs de perles", "opera", "Georges Bizet"), ("Nabucco", "opera", "Giuseppe Verdi"),
    ("Tosca", "opera", "Giacomo Puccini"), ("An American in Paris", "orchestral piece", "George Gershwin"),
    ("Egdon Heath", "tone poem", "Gustav Holst"), ("La Cenerentola", "opera", "Gioachino Rossini"),
    ("Lohengrin", "opera", "Richard Wagner"), ("the Holberg Suite", "suite", "Edvard Grieg"),
    ("Boris Godunov", "opera", "Modest Mussorgsky"), ("the Organ Symphony", "symphony", "Camille Saint-Saëns"),
    ("the Raindrop Prelude", "piano prelude", "Frédéric Chopin"), ("Gnossiennes", "set of piano pieces", "Erik Satie"),
    ("the Slavonic Dances", "set of dances", "Antonín Dvořák"), ("Karelia Suite", "suite", "Jean Sibelius"),
    ("Fantasia on a Theme by Thomas Tallis", "orchestral work", "Ralph Vaughan Williams"),
    ("the Cello Concerto in E minor", "concerto", "Edward Elgar"),
    ("The Love for Three Oranges", "opera", "Sergei Prokofiev"), ("Der Mond", "opera", "Carl Orff"),
    ("Knoxville: Summer of 1915", "piece for voice and orchestra", "Samuel Barber"),
    ("The Fairy-Queen", "semi-opera", "Henry Purcell"), ("Harold en Italie", "symphony", "Hector Berlioz"),
    ("the Unfinished Symphony", "symphony", "Franz Schubert"), ("The Bartered Bride", "opera", "Bedřich Smetana"),
    ("Candide", "operetta", "Leonard Bernstein"), ("Also sprach Zarathustra", "tone poem", "Richard Strauss"),
    ("Hungarian Rhapsody No. 2", "piano piece", "Franz Liszt"), ("Scheherazade", "symphonic suite",
                                                                   "Nikolai Rimsky-Korsakov"),
    ("The Gates of Hell", "sculpture", "Auguste Rodin"), ("Apollo and Daphne", "sculpture", "Gian Lorenzo Bernini"),
    ("the Salt Cellar of Francis I", "sculpture", "Benvenuto Cellini"),
    ("Moses", "sculpture", "Michelangelo"), ("Rabbit", "sculpture", "Jeff Koons"),
    ("Bird in Space", "sculpture", "Constantin Brâncuși"), ("Reclining Figure", "sculpture", "Henry Moore"),
    ("the Robie House", "house", "Frank Lloyd Wright"), ("the Walt Disney Concert Hall", "concert hall", "Frank Gehry"),
    ("the Bank of China Tower in Hong Kong", "skyscraper", "I. M. Pei"),
    ("the Barcelona Pavilion", "pavilion", "Ludwig Mies van der Rohe"),
    ("the Notre Dame du Haut chapel at Ronchamp", "chapel", "Le Corbusier"),
    ("the Shard in London", "skyscraper", "Renzo Piano"), ("the Lloyd's building in London", "office building", "Richard Rogers"),
    ("the Casa Batlló", "house", "Antoni Gaudí"), ("the Hagia Sophia", "church", "Isidore of Miletus and Anthemius of Tralles"),
]

DISTRACTORS = []
for _t, _k, _a in OTHER:
    _art = "an" if _k[0] in "aeiou" else "a"
    DISTRACTORS.append(f"{_title(_t)} is {_art} {_k} by {_a}.")
    DISTRACTORS.append(f"{_a} is the maker of the {_k} {_t}.")

# Distractors checked by hand to state a different true fact than the question about the same
# words: none so far.
REVIEWED_RELATED: set[str] = set()
