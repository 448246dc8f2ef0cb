"""Who wrote a famous book, play or poem.

Bare surnames are aliases only where they are distinctive (no "Lee", "King", "Brown", "Eliot",
"Lewis", "Adams", "Smith", ...): a bare alias would also match a wrong author's full name.
"""

from .common import q

SHAKESPEARE = ["William Shakespeare", "Shakespeare"]
AUSTEN = ["Jane Austen", "Austen"]
ORWELL = ["George Orwell", "Orwell", "Eric Arthur Blair", "Eric Blair"]
TWAIN = ["Mark Twain", "Samuel Clemens", "Samuel Langhorne Clemens", "Twain"]
TOLSTOY = ["Leo Tolstoy", "Tolstoy", "Lev Tolstoy", "Lev Nikolayevich Tolstoy"]
DOSTO = ["Fyodor Dostoevsky", "Dostoevsky", "Dostoyevsky", "Fyodor Dostoyevsky", "Dostoievsky"]
DICKENS = ["Charles Dickens", "Dickens"]
HEMINGWAY = ["Ernest Hemingway", "Hemingway"]
STEINBECK = ["John Steinbeck", "Steinbeck"]
TOLKIEN = ["J. R. R. Tolkien", "J.R.R. Tolkien", "Tolkien", "John Ronald Reuel Tolkien"]
WILDE = ["Oscar Wilde", "Wilde", "Oscar Fingal O'Flahertie Wills Wilde"]
HUGO = ["Victor Hugo", "Hugo"]
DUMAS = ["Alexandre Dumas", "Dumas"]
HOMER = ["Homer"]
STEVENSON = ["Robert Louis Stevenson", "Stevenson", "R. L. Stevenson", "R.L. Stevenson"]
WELLS = ["H. G. Wells", "H.G. Wells", "Wells", "Herbert George Wells"]
VERNE = ["Jules Verne", "Verne"]
KAFKA = ["Franz Kafka", "Kafka"]
CHRISTIE = ["Agatha Christie", "Christie", "Agatha Mary Clarissa Christie"]
DOYLE = ["Arthur Conan Doyle", "Conan Doyle", "Sir Arthur Conan Doyle", "Doyle"]
DAHL = ["Roald Dahl", "Dahl"]
KING = ["Stephen King"]
LONDON = ["Jack London"]
WOOLF = ["Virginia Woolf", "Woolf"]
HARDY = ["Thomas Hardy", "Hardy"]
RAND = ["Ayn Rand"]
ASIMOV = ["Isaac Asimov", "Asimov"]
GOETHE = ["Johann Wolfgang von Goethe", "Goethe"]
ISHIGURO = ["Kazuo Ishiguro", "Ishiguro"]
ELIOT_G = ["George Eliot", "Mary Ann Evans", "Mary Anne Evans"]

# (title, kind, authors, question wording or None)
TABLE = [
    ("Hamlet", "play", SHAKESPEARE), ("Romeo and Juliet", "play", SHAKESPEARE),
    ("Macbeth", "play", SHAKESPEARE),
    ("Pride and Prejudice", "novel", AUSTEN), ("Emma", "novel", AUSTEN),
    ("Sense and Sensibility", "novel", AUSTEN),
    ("Nineteen Eighty-Four", "novel", ORWELL), ("Animal Farm", "novella", ORWELL),
    ("Moby-Dick", "novel", ["Herman Melville", "Melville"]),
    ("The Adventures of Tom Sawyer", "novel", TWAIN),
    ("Adventures of Huckleberry Finn", "novel", TWAIN),
    ("War and Peace", "novel", TOLSTOY), ("Anna Karenina", "novel", TOLSTOY),
    ("Crime and Punishment", "novel", DOSTO), ("The Brothers Karamazov", "novel", DOSTO),
    ("Don Quixote", "novel", ["Miguel de Cervantes", "Cervantes",
                              "Miguel de Cervantes Saavedra"]),
    ("Great Expectations", "novel", DICKENS), ("Oliver Twist", "novel", DICKENS),
    ("A Tale of Two Cities", "novel", DICKENS), ("A Christmas Carol", "novella", DICKENS),
    ("David Copperfield", "novel", DICKENS),
    ("Jane Eyre", "novel", ["Charlotte Brontë", "Charlotte Bronte", "Currer Bell"]),
    ("Wuthering Heights", "novel", ["Emily Brontë", "Emily Bronte", "Ellis Bell"]),
    ("Frankenstein", "novel", ["Mary Shelley", "Mary Wollstonecraft Shelley"]),
    ("Dracula", "novel", ["Bram Stoker", "Stoker", "Abraham Stoker"]),
    ("The Great Gatsby", "novel", ["F. Scott Fitzgerald", "Scott Fitzgerald", "Fitzgerald",
                                   "Francis Scott Fitzgerald"]),
    ("To Kill a Mockingbird", "novel", ["Harper Lee", "Nelle Harper Lee"]),
    ("The Catcher in the Rye", "novel", ["J. D. Salinger", "J.D. Salinger", "Salinger",
                                         "Jerome David Salinger"]),
    ("The Old Man and the Sea", "novella", HEMINGWAY),
    ("A Farewell to Arms", "novel", HEMINGWAY),
    ("Of Mice and Men", "novella", STEINBECK), ("The Grapes of Wrath", "novel", STEINBECK),
    ("East of Eden", "novel", STEINBECK),
    ("The Hobbit", "novel", TOLKIEN), ("The Lord of the Rings", "novel", TOLKIEN),
    ("Harry Potter and the Philosopher's Stone", "novel",
     ["J. K. Rowling", "J.K. Rowling", "Rowling", "Joanne Rowling"]),
    ("Brave New World", "novel", ["Aldous Huxley", "Huxley"]),
    ("Fahrenheit 451", "novel", ["Ray Bradbury", "Bradbury"]),
    ("Lord of the Flies", "novel", ["William Golding", "Golding"]),
    ("The Picture of Dorian Gray", "novel", WILDE),
    ("The Importance of Being Earnest", "play", WILDE),
    ("Ulysses", "novel", ["James Joyce", "Joyce"]),
    ("One Hundred Years of Solitude", "novel",
     ["Gabriel García Márquez", "García Márquez", "Gabriel Garcia Marquez", "Garcia Marquez",
      "Marquez", "Gabo"]),
    ("Les Misérables", "novel", HUGO), ("The Hunchback of Notre-Dame", "novel", HUGO),
    ("The Count of Monte Cristo", "novel", DUMAS), ("The Three Musketeers", "novel", DUMAS),
    ("Madame Bovary", "novel", ["Gustave Flaubert", "Flaubert"]),
    ("The Divine Comedy", "poem", ["Dante Alighieri", "Dante", "Alighieri"]),
    ("The Odyssey", "epic poem", HOMER), ("The Iliad", "epic poem", HOMER),
    ("The Canterbury Tales", "collection of stories", ["Geoffrey Chaucer", "Chaucer"]),
    ("Paradise Lost", "epic poem", ["John Milton", "Milton"]),
    ("Gulliver's Travels", "novel", ["Jonathan Swift", "Swift"]),
    ("Robinson Crusoe", "novel", ["Daniel Defoe", "Defoe"]),
    ("Treasure Island", "novel", STEVENSON),
    ("Strange Case of Dr Jekyll and Mr Hyde", "novella", STEVENSON),
    ("Alice's Adventures in Wonderland", "novel",
     ["Lewis Carroll", "Carroll", "Charles Dodgson", "Charles Lutwidge Dodgson"]),
    ("The Jungle Book", "book", ["Rudyard Kipling", "Kipling"]),
    ("The Time Machine", "novella", WELLS), ("The War of the Worlds", "novel", WELLS),
    ("Twenty Thousand Leagues Under the Seas", "novel", VERNE),
    ("Around the World in Eighty Days", "novel", VERNE),
    ("The Little Prince", "novella",
     ["Antoine de Saint-Exupéry", "Saint-Exupéry", "Antoine de Saint-Exupery", "Saint-Exupery",
      "Exupery"]),
    ("The Metamorphosis", "novella", KAFKA), ("The Trial", "novel", KAFKA),
    ("The Stranger", "novel by Albert Camus, also called L'Étranger", None),
    ("Lolita", "novel", ["Vladimir Nabokov", "Nabokov"]),
    ("Catch-22", "novel", ["Joseph Heller", "Heller"]),
    ("Slaughterhouse-Five", "novel", ["Kurt Vonnegut", "Vonnegut"]),
    ("Beloved", "novel", ["Toni Morrison", "Morrison", "Chloe Anthony Wofford"]),
    ("The Handmaid's Tale", "novel", ["Margaret Atwood", "Atwood"]),
    ("On the Road", "novel", ["Jack Kerouac", "Kerouac"]),
    ("Things Fall Apart", "novel", ["Chinua Achebe", "Achebe"]),
    ("Midnight's Children", "novel", ["Salman Rushdie", "Rushdie"]),
    ("The Kite Runner", "novel", ["Khaled Hosseini", "Hosseini"]),
    ("Life of Pi", "novel", ["Yann Martel", "Martel"]),
    ("The Da Vinci Code", "novel", ["Dan Brown"]),
    ("The Shining", "novel", KING), ("Carrie", "novel", KING),
    ("Murder on the Orient Express", "novel", CHRISTIE),
    ("And Then There Were None", "novel", CHRISTIE),
    ("The Hound of the Baskervilles", "novel", DOYLE), ("A Study in Scarlet", "novel", DOYLE),
    ("Charlotte's Web", "children's novel", ["E. B. White", "E.B. White", "Elwyn Brooks White"]),
    ("The Cat in the Hat", "children's book",
     ["Dr. Seuss", "Seuss", "Theodor Seuss Geisel", "Theodor Geisel", "Geisel"]),
    ("Where the Wild Things Are", "children's book", ["Maurice Sendak", "Sendak"]),
    ("Matilda", "children's novel", DAHL),
    ("Charlie and the Chocolate Factory", "children's novel", DAHL),
    ("The Lion, the Witch and the Wardrobe", "novel",
     ["C. S. Lewis", "C.S. Lewis", "Clive Staples Lewis"]),
    ("Peter Pan", "play and novel", ["J. M. Barrie", "J.M. Barrie", "Barrie",
                                      "James Matthew Barrie"]),
    ("Winnie-the-Pooh", "children's book", ["A. A. Milne", "A.A. Milne", "Milne",
                                             "Alan Alexander Milne"]),
    ("The Wind in the Willows", "children's novel", ["Kenneth Grahame", "Grahame"]),
    ("Black Beauty", "novel", ["Anna Sewell", "Sewell"]),
    ("Little Women", "novel", ["Louisa May Alcott", "Alcott"]),
    ("Uncle Tom's Cabin", "novel", ["Harriet Beecher Stowe", "Beecher Stowe", "Stowe"]),
    ("The Scarlet Letter", "novel", ["Nathaniel Hawthorne", "Hawthorne"]),
    ("The Raven", "poem", ["Edgar Allan Poe", "Poe", "Edgar Poe"]),
    ("Leaves of Grass", "collection of poems", ["Walt Whitman", "Whitman", "Walter Whitman"]),
    ("Walden", "book", ["Henry David Thoreau", "Thoreau"]),
    ("The Call of the Wild", "novel", LONDON), ("White Fang", "novel", LONDON),
    ("Heart of Darkness", "novella", ["Joseph Conrad", "Conrad"]),
    ("Mrs Dalloway", "novel", WOOLF), ("To the Lighthouse", "novel", WOOLF),
    ("The Waste Land", "poem", ["T. S. Eliot", "T.S. Eliot", "Thomas Stearns Eliot"]),
    ("Middlemarch", "novel", ELIOT_G), ("Silas Marner", "novel", ELIOT_G),
    ("Vanity Fair", "novel", ["William Makepeace Thackeray", "Thackeray"]),
    ("Tess of the d'Urbervilles", "novel", HARDY),
    ("Far from the Madding Crowd", "novel", HARDY),
    ("Sons and Lovers", "novel", ["D. H. Lawrence", "D.H. Lawrence", "David Herbert Lawrence"]),
    ("A Passage to India", "novel", ["E. M. Forster", "E.M. Forster", "Forster",
                                     "Edward Morgan Forster"]),
    ("Rebecca", "novel", ["Daphne du Maurier", "du Maurier"]),
    ("Atlas Shrugged", "novel", RAND), ("The Fountainhead", "novel", RAND),
    ("Gone with the Wind", "novel", ["Margaret Mitchell", "Mitchell"]),
    ("The Godfather", "novel", ["Mario Puzo", "Puzo"]),
    ("Jurassic Park", "novel", ["Michael Crichton", "Crichton"]),
    ("Dune", "novel", ["Frank Herbert"]),
    ("Foundation", "novel", ASIMOV), ("I, Robot", "collection of stories", ASIMOV),
    ("The Hitchhiker's Guide to the Galaxy", "novel", ["Douglas Adams"]),
    ("Ender's Game", "novel", ["Orson Scott Card"]),
    ("A Game of Thrones", "novel", ["George R. R. Martin", "George R.R. Martin",
                                    "George Raymond Richard Martin", "G. R. R. Martin",
                                    "George Martin"]),
    ("On the Origin of Species", "book", ["Charles Darwin", "Darwin"]),
    ("A Brief History of Time", "book", ["Stephen Hawking", "Hawking"]),
    ("The Wealth of Nations", "book", ["Adam Smith"]),
    ("The Prince", "treatise", ["Niccolò Machiavelli", "Niccolo Machiavelli", "Machiavelli"]),
    ("The Republic", "dialogue", ["Plato"]),
    ("Leviathan", "book", ["Thomas Hobbes", "Hobbes"]),
    ("The Art of War", "treatise", ["Sun Tzu", "Sunzi", "Sun Wu"]),
    ("Das Kapital", "book", ["Karl Marx", "Marx"]),
    ("Faust", "play", GOETHE), ("The Sorrows of Young Werther", "novel", GOETHE),
    ("Doctor Zhivago", "novel", ["Boris Pasternak", "Pasternak"]),
    ("Eugene Onegin", "novel in verse", ["Alexander Pushkin", "Aleksandr Pushkin", "Pushkin"]),
    ("One Day in the Life of Ivan Denisovich", "novel",
     ["Aleksandr Solzhenitsyn", "Alexander Solzhenitsyn", "Solzhenitsyn"]),
    ("The Name of the Rose", "novel", ["Umberto Eco"]),
    ("The Adventures of Pinocchio", "novel", ["Carlo Collodi", "Collodi", "Carlo Lorenzini"]),
    ("The Tale of Peter Rabbit", "children's book", ["Beatrix Potter",
                                                     "Helen Beatrix Potter"]),
    ("Anne of Green Gables", "novel", ["Lucy Maud Montgomery", "L. M. Montgomery",
                                       "L.M. Montgomery", "Montgomery"]),
    ("Heidi", "novel", ["Johanna Spyri", "Spyri"]),
    ("The Bell Jar", "novel", ["Sylvia Plath", "Plath"]),
    ("Brideshead Revisited", "novel", ["Evelyn Waugh", "Waugh"]),
    ("A Clockwork Orange", "novel", ["Anthony Burgess", "Burgess"]),
    ("The Remains of the Day", "novel", ISHIGURO), ("Never Let Me Go", "novel", ISHIGURO),
    ("Norwegian Wood", "novel", ["Haruki Murakami", "Murakami"]),
    ("The Alchemist", "novel", ["Paulo Coelho", "Coelho"]),
    ("The Hunger Games", "novel", ["Suzanne Collins"]),
    ("Twilight", "novel", ["Stephenie Meyer", "Stephanie Meyer", "Meyer"]),
    ("The Girl with the Dragon Tattoo", "novel", ["Stieg Larsson", "Larsson"]),
    ("Candide", "novella", ["Voltaire", "François-Marie Arouet", "Francois-Marie Arouet"]),
    ("Oedipus Rex", "play", ["Sophocles"]),
    ("The Aeneid", "epic poem", ["Virgil", "Vergil", "Publius Vergilius Maro"]),
    ("Waiting for Godot", "play", ["Samuel Beckett", "Beckett"]),
    ("A Doll's House", "play", ["Henrik Ibsen", "Ibsen"]),
    ("Death of a Salesman", "play", ["Arthur Miller"]),
    ("A Streetcar Named Desire", "play", ["Tennessee Williams", "Thomas Lanier Williams"]),
    ("Pygmalion", "play", ["George Bernard Shaw", "Bernard Shaw", "Shaw", "G. B. Shaw"]),
    ("The Cherry Orchard", "play", ["Anton Chekhov", "Chekhov", "Tchekhov"]),
    ("The Sound and the Fury", "novel", ["William Faulkner", "Faulkner"]),
    ("The Good Earth", "novel", ["Pearl S. Buck", "Pearl Buck", "Pearl Sydenstricker Buck"]),
    ("Watership Down", "novel", ["Richard Adams"]),
    ("Of Human Bondage", "novel", ["W. Somerset Maugham", "Somerset Maugham", "Maugham"]),
]

QUESTION_FORMS = {
    "play": "Who wrote the play {t}?",
    "novel": "Who wrote the novel {t}?",
    "novella": "Who wrote {t}?",
    "epic poem": "Who is the author of the epic poem {t}?",
    "poem": "Who wrote the poem {t}?",
}


# Trimmed to about 155 questions.
_DROP = {"Sense and Sensibility", "David Copperfield", "East of Eden", "The Three Musketeers",
         "Silas Marner", "Far from the Madding Crowd", "The Fountainhead", "Never Let Me Go",
         "White Fang", "Carrie"}
TABLE = [t for t in TABLE if t[0] not in _DROP]


def _questions():
    out = []
    for title, kind, authors in TABLE:
        if authors is None:  # The Stranger: the title alone is ambiguous; say whose translation
            out.append(q("Who wrote the novel The Stranger, first published in French as "
                         "L'Étranger?", ["Albert Camus", "Camus"],
                         "The Stranger (L'Étranger) is a novel written by Albert Camus.",
                         "The Stranger"))
            continue
        form = QUESTION_FORMS.get(kind, "Who wrote {t}?")
        article = "an" if kind[0] in "aeiou" else "a"
        out.append(q(form.format(t=title), authors,
                     f"{title} is {article} {kind} written by {authors[0]}.", title))
    return out


QUESTIONS = _questions()

# Books whose authors no question names: (title, kind, author)
OTHER = [
    ("Gravity's Rainbow", "novel", "Thomas Pynchon"), ("White Noise", "novel", "Don DeLillo"),
    ("American Pastoral", "novel", "Philip Roth"), ("Herzog", "novel", "Saul Bellow"),
    ("Rabbit, Run", "novel", "John Updike"), ("Atonement", "novel", "Ian McEwan"),
    ("The Sense of an Ending", "novel", "Julian Barnes"), ("Wolf Hall", "novel", "Hilary Mantel"),
    ("White Teeth", "novel", "Zadie Smith"), ("The Secret History", "novel", "Donna Tartt"),
    ("The Corrections", "novel", "Jonathan Franzen"),
    ("The English Patient", "novel", "Michael Ondaatje"),
    ("The God of Small Things", "novel", "Arundhati Roy"),
    ("A Suitable Boy", "novel", "Vikram Seth"),
    ("Half of a Yellow Sun", "novel", "Chimamanda Ngozi Adichie"),
    ("Disgrace", "novel", "J. M. Coetzee"), ("July's People", "novel", "Nadine Gordimer"),
    ("The Golden Notebook", "novel", "Doris Lessing"), ("The Sea, the Sea", "novel", "Iris Murdoch"),
    ("The Prime of Miss Jean Brodie", "novel", "Muriel Spark"),
    ("The Power and the Glory", "novel", "Graham Greene"),
    ("The Good Soldier", "novel", "Ford Madox Ford"),
    ("The Shipping News", "novel", "Annie Proulx"), ("Lonesome Dove", "novel", "Larry McMurtry"),
    ("One Flew Over the Cuckoo's Nest", "novel", "Ken Kesey"),
    ("In Cold Blood", "book", "Truman Capote"), ("Invisible Cities", "novel", "Italo Calvino"),
    ("If This Is a Man", "memoir", "Primo Levi"), ("My Brilliant Friend", "novel", "Elena Ferrante"),
    ("Blindness", "novel", "José Saramago"), ("The Book of Disquiet", "book", "Fernando Pessoa"),
    ("Ficciones", "collection of stories", "Jorge Luis Borges"),
    ("Hopscotch", "novel", "Julio Cortázar"),
    ("The Time of the Hero", "novel", "Mario Vargas Llosa"),
    ("The House of the Spirits", "novel", "Isabel Allende"),
    ("Twenty Love Poems and a Song of Despair", "collection of poems", "Pablo Neruda"),
    ("The Labyrinth of Solitude", "book", "Octavio Paz"),
    ("The Death of Artemio Cruz", "novel", "Carlos Fuentes"),
    ("Pedro Páramo", "novel", "Juan Rulfo"), ("2666", "novel", "Roberto Bolaño"),
    ("The Magic Mountain", "novel", "Thomas Mann"), ("Buddenbrooks", "novel", "Thomas Mann"),
    ("Siddhartha", "novel", "Hermann Hesse"), ("Steppenwolf", "novel", "Hermann Hesse"),
    ("The Tin Drum", "novel", "Günter Grass"),
    ("All Quiet on the Western Front", "novel", "Erich Maria Remarque"),
    ("The Man Without Qualities", "novel", "Robert Musil"),
    ("Chess Story", "novella", "Stefan Zweig"), ("Duino Elegies", "collection of poems",
                                                 "Rainer Maria Rilke"),
    ("Mother Courage and Her Children", "play", "Bertolt Brecht"),
    ("Austerlitz", "novel", "W. G. Sebald"), ("Perfume", "novel", "Patrick Süskind"),
    ("In Search of Lost Time", "novel", "Marcel Proust"), ("Germinal", "novel", "Émile Zola"),
    ("Père Goriot", "novel", "Honoré de Balzac"), ("The Red and the Black", "novel", "Stendhal"),
    ("Bel-Ami", "novel", "Guy de Maupassant"), ("Nausea", "novel", "Jean-Paul Sartre"),
    ("The Second Sex", "book", "Simone de Beauvoir"), ("The Lover", "novel", "Marguerite Duras"),
    ("Tartuffe", "play", "Molière"), ("Phèdre", "play", "Jean Racine"),
    ("Le Cid", "play", "Pierre Corneille"), ("Cyrano de Bergerac", "play", "Edmond Rostand"),
    ("Fathers and Sons", "novel", "Ivan Turgenev"), ("Dead Souls", "novel", "Nikolai Gogol"),
    ("The Master and Margarita", "novel", "Mikhail Bulgakov"),
    ("Oblomov", "novel", "Ivan Goncharov"), ("We", "novel", "Yevgeny Zamyatin"),
    ("Life and Fate", "novel", "Vasily Grossman"), ("Quo Vadis", "novel", "Henryk Sienkiewicz"),
    ("Solaris", "novel", "Stanisław Lem"),
    ("The Unbearable Lightness of Being", "novel", "Milan Kundera"),
    ("The Good Soldier Švejk", "novel", "Jaroslav Hašek"), ("R.U.R.", "play", "Karel Čapek"),
    ("Hunger", "novel", "Knut Hamsun"),
    ("The Wonderful Adventures of Nils", "novel", "Selma Lagerlöf"),
    ("Pippi Longstocking", "children's book", "Astrid Lindgren"),
    ("The Little Mermaid", "fairy tale", "Hans Christian Andersen"),
    ("Miss Julie", "play", "August Strindberg"),
    ("Independent People", "novel", "Halldór Laxness"), ("My Name Is Red", "novel", "Orhan Pamuk"),
    ("Palace Walk", "novel", "Naguib Mahfouz"), ("Snow Country", "novel", "Yasunari Kawabata"),
    ("The Sound of Waves", "novel", "Yukio Mishima"), ("Kokoro", "novel", "Natsume Sōseki"),
    ("The Woman in the Dunes", "novel", "Kōbō Abe"),
    ("The True Story of Ah Q", "novella", "Lu Xun"),
    ("Dream of the Red Chamber", "novel", "Cao Xueqin"),
    ("Journey to the West", "novel", "Wu Cheng'en"),
    ("The Tale of Genji", "novel", "Murasaki Shikibu"),
    ("Gitanjali", "collection of poems", "Rabindranath Tagore"),
    ("Swami and Friends", "novel", "R. K. Narayan"), ("The Famished Road", "novel", "Ben Okri"),
    ("Death and the King's Horseman", "play", "Wole Soyinka"),
    ("Weep Not, Child", "novel", "Ngũgĩ wa Thiong'o"),
    ("Voss", "novel", "Patrick White"),
    ("Oscar and Lucinda", "novel", "Peter Carey"), ("Cloudstreet", "novel", "Tim Winton"),
    ("Lives of Girls and Women", "book", "Alice Munro"),
    ("Fifth Business", "novel", "Robertson Davies"),
    ("The Day of the Locust", "novel", "Nathanael West"),
    ("Main Street", "novel", "Sinclair Lewis"), ("The Age of Innocence", "novel", "Edith Wharton"),
    ("The Portrait of a Lady", "novel", "Henry James"),
    ("Sister Carrie", "novel", "Theodore Dreiser"), ("My Ántonia", "novel", "Willa Cather"),
    ("Their Eyes Were Watching God", "novel", "Zora Neale Hurston"),
    ("Go Tell It on the Mountain", "novel", "James Baldwin"),
    ("Wise Blood", "novel", "Flannery O'Connor"),
    ("The Heart Is a Lonely Hunter", "novel", "Carson McCullers"),
    ("The World According to Garp", "novel", "John Irving"),
    ("Ragtime", "novel", "E. L. Doctorow"), ("The New York Trilogy", "novel", "Paul Auster"),
    ("The Big Sleep", "novel", "Raymond Chandler"),
    ("The Maltese Falcon", "novel", "Dashiell Hammett"),
    ("The Talented Mr. Ripley", "novel", "Patricia Highsmith"),
    ("Tinker Tailor Soldier Spy", "novel", "John le Carré"),
    ("Do Androids Dream of Electric Sheep?", "novel", "Philip K. Dick"),
    ("The Left Hand of Darkness", "novel", "Ursula K. Le Guin"),
    ("The Colour of Magic", "novel", "Terry Pratchett"), ("American Gods", "novel", "Neil Gaiman"),
    ("Northern Lights", "novel", "Philip Pullman"),
    ("The Curious Incident of the Dog in the Night-Time", "novel", "Mark Haddon"),
    ("High Fidelity", "novel", "Nick Hornby"), ("Trainspotting", "novel", "Irvine Welsh"),
    ("Ivanhoe", "novel", "Walter Scott"), ("Pamela", "novel", "Samuel Richardson"),
    ("Tom Jones", "novel", "Henry Fielding"), ("Tristram Shandy", "novel", "Laurence Sterne"),
    ("Barchester Towers", "novel", "Anthony Trollope"),
    ("North and South", "novel", "Elizabeth Gaskell"),
    ("Right Ho, Jeeves", "novel", "P. G. Wodehouse"), ("Lucky Jim", "novel", "Kingsley Amis"),
    ("The French Lieutenant's Woman", "novel", "John Fowles"),
    ("Wide Sargasso Sea", "novel", "Jean Rhys"), ("The Bloody Chamber", "collection of stories",
                                                  "Angela Carter"),
    ("The Prelude", "poem", "William Wordsworth"),
    ("The Rime of the Ancient Mariner", "poem", "Samuel Taylor Coleridge"),
    ("Don Juan", "poem", "Lord Byron"), ("The Road Not Taken", "poem", "Robert Frost"),
    ("Howl", "poem", "Allen Ginsberg"), ("The Second Coming", "poem", "W. B. Yeats"),
    ("Under Milk Wood", "radio play", "Dylan Thomas"),
    ("Death of a Naturalist", "collection of poems", "Seamus Heaney"),
    ("The Whitsun Weddings", "collection of poems", "Philip Larkin"),
    ("Theogony", "poem", "Hesiod"), ("Metamorphoses", "poem", "Ovid"),
    ("Medea", "play", "Euripides"), ("The Clouds", "play", "Aristophanes"),
    ("Nicomachean Ethics", "book", "Aristotle"), ("Meditations", "book", "Marcus Aurelius"),
    ("Utopia", "book", "Thomas More"), ("The Social Contract", "book", "Jean-Jacques Rousseau"),
    ("Critique of Pure Reason", "book", "Immanuel Kant"),
    ("Thus Spoke Zarathustra", "book", "Friedrich Nietzsche"),
    ("Fear and Trembling", "book", "Søren Kierkegaard"),
    ("The Decameron", "collection of stories", "Giovanni Boccaccio"),
    ("Orlando Furioso", "epic poem", "Ludovico Ariosto"),
    ("Gargantua and Pantagruel", "novel", "François Rabelais"),
    ("Essays", "book", "Michel de Montaigne"),
]

# Two phrasings of each: the fact passages use the first style, so a retriever must tell the
# title apart, not the sentence shape.
DISTRACTORS = []
for _t, _k, _a in OTHER:
    _art = "an" if _k[0] in "aeiou" else "a"
    DISTRACTORS.append(f"{_t} is {_art} {_k} written by {_a}.")
    DISTRACTORS.append(f"{_a} is the author of the {_k} {_t}.")
