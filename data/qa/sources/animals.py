"""Animals: the names of young animals, groups, males and females, sounds, homes, kinds and
other everyday animal facts.

A second fresh held-out domain (issue 14), written after `art` had been answered: SmolLM2 names
the maker of only 6% of the works in `art` (10 of 160), too few correct answers to measure a
ranking, so this domain of everyday facts was added to get a held-out set with both classes.
Its answers were generated and labelled before any scorer was run on it or on `art`.
The animal facts already in `science` (joey, blue whale, cheetah, giraffe, ostrich,
caterpillars) and in its distractors (kid, cygnet, leveret, a murder of crows, a pride of lions,
tadpoles, the largest living reptile) are left out.
"""

from .common import q

# (animal, aliases of its young)
YOUNG = [
    ("cat", ["kitten", "kittens", "kitty"]), ("dog", ["puppy", "puppies", "pup", "pups"]),
    ("cow", ["calf", "calves"]), ("horse", ["foal", "foals", "colt", "filly"]),
    ("sheep", ["lamb", "lambs"]), ("pig", ["piglet", "piglets", "shoat"]),
    ("duck", ["duckling", "ducklings"]), ("goose", ["gosling", "goslings"]),
("bear", ["cub", "cubs"]),
    ("deer", ["fawn", "fawns"]), ("owl", ["owlet", "owlets"]), ("eagle", ["eaglet", "eaglets"]),
    ("chicken", ["chick", "chicks"]), ("seal", ["pup", "pups", "seal pup"]),
    ("tiger", ["cub", "cubs"]), ("turkey", ["poult", "poults"]), ("eel", ["elver", "elvers"]),
    ("rabbit", ["kit", "kits", "kitten", "kittens", "bunny", "bunnies"]),
    ("fish", ["fry", "fingerling", "fingerlings"]), ("zebra", ["foal", "foals"]),
    ("donkey", ["foal", "foals"]), ("wolf", ["pup", "pups", "cub", "cubs"]),
    ("elephant", ["calf", "calves"]), ("beaver", ["kit", "kits"]),
]

# (animals, aliases of the group's name)
GROUPS = [
    ("wolves", ["pack", "packs"]), ("fish", ["school", "shoal"]), ("bees", ["swarm", "colony", "hive"]),
    ("cows", ["herd", "herds"]), ("birds", ["flock", "flocks"]), ("geese on the ground", ["gaggle"]),
    ("whales", ["pod", "pods", "gam"]), ("ants", ["colony", "colonies"]), ("owls", ["parliament"]),
    ("sheep", ["flock", "herd"]), ("dolphins", ["pod", "pods", "school"]),
    ("puppies born to one mother at the same time", ["litter"]), ("flamingos", ["flamboyance"]),
    ("kangaroos", ["mob", "troop", "court"]),
]

# (question, aliases): males and females
SEXES = [
    ("What is a female horse called?", ["mare"]),
    ("What is an adult male horse used for breeding called?", ["stallion"]),
    ("What is an adult male cow called?", ["bull"]),
    ("What is a female sheep called?", ["ewe"]),
    ("What is a male sheep called?", ["ram", "tup"]),
    ("What is an adult male chicken called?", ["rooster", "cock", "cockerel"]),
    ("What is an adult female pig called?", ["sow"]),
    ("What is a male pig called?", ["boar", "hog"]),
    ("What is a male duck called?", ["drake"]),
    ("What is a female deer called?", ["doe", "hind"]),
    ("What is a male deer called?", ["stag", "buck", "hart"]),
    ("What is a female fox called?", ["vixen"]),
    ("What is a male goose called?", ["gander"]),
    ("What is a male honeybee called?", ["drone", "drones"]),
    ("What is a male cat called?", ["tom", "tomcat", "tom cat"]),
    ("What is a female chicken called?", ["hen", "hens"]),
]

# (animal, aliases of its sound)
SOUNDS = [
    ("cow", ["moo", "moos", "mooing"]), ("dog", ["bark", "barks", "barking", "woof"]),
    ("cat", ["meow", "meows", "miaow", "mew", "purr", "purrs"]), ("pig", ["oink", "oinks", "grunt", "grunts"]),
    ("duck", ["quack", "quacks", "quacking"]), ("sheep", ["baa", "bleat", "bleats", "bleating"]),
    ("horse", ["neigh", "neighs", "whinny", "whinnies", "neighing"]), ("lion", ["roar", "roars", "roaring"]),
    ("owl", ["hoot", "hoots", "hooting", "twit twoo", "to whit to whoo"]), ("snake", ["hiss", "hisses", "hissing"]),
    ("donkey", ["bray", "brays", "braying", "hee haw", "heehaw"]),
    ("frog", ["croak", "croaks", "croaking", "ribbit"]), ("bee", ["buzz", "buzzes", "buzzing", "hum"]),
    ("wolf", ["howl", "howls", "howling"]),
]

# (question, aliases): where an animal lives
HOMES = [
    ("What is the home of a colony of honeybees called?", ["hive", "beehive", "hives"],
     "A colony of honeybees lives in a hive.", "colony of honeybees"),
    ("What is a rabbit's underground home called?", ["burrow", "warren", "burrows", "warrens"],
     "A rabbit's underground home is called a burrow.", "rabbit's underground"),
    ("What is the home a beaver builds from sticks and mud called?", ["lodge"],
     "The home a beaver builds from sticks and mud is called a lodge.", "sticks and mud"),
    ("What does a spider spin to catch its prey?", ["web", "webs", "spider web", "cobweb"],
     "A spider spins a web to catch its prey.", "spider spin"),
    ("What is a fox's underground home called?", ["den", "burrow", "foxhole"],
     "A fox's underground home is called a den.", "fox's underground"),
    ("What is a pig's enclosure on a farm called?", ["sty", "pigsty", "pig sty", "pigpen", "pig pen"],
     "A pig's enclosure on a farm is called a sty.", "pig's enclosure"),
    ("What is the nest of an eagle, built high on a cliff, called?", ["eyrie", "aerie", "eyry"],
     "The nest of an eagle, built high on a cliff, is called an eyrie.", "nest of an eagle"),
    ("What is a squirrel's nest called?", ["drey", "dray"], "A squirrel's nest is called a drey.", "squirrel's nest"),
    ("What is the building where horses are kept called?", ["stable", "stables"],
     "Horses are kept in a building called a stable.", "horses are kept"),
    ("What is a bear's winter shelter called?", ["den", "dens", "cave"],
     "A bear's winter shelter is called a den.", "bear's winter"),
    ("What is the mound that termites build called?", ["termite mound", "termitarium"],
     "The mound that termites build is called a termite mound.", "termites build"),
]

# (animal, aliases of its class)
MAMMAL = ["mammal", "mammals"]
REPTILE = ["reptile", "reptiles"]
AMPHIBIAN = ["amphibian", "amphibians"]
KINDS = [
    ("a bat", MAMMAL), ("a dolphin", MAMMAL), ("a penguin", ["bird", "birds"]), ("a frog", AMPHIBIAN),
    ("a snake", REPTILE), ("a shark", ["fish"]), ("a crocodile", REPTILE), ("a salamander", AMPHIBIAN),
    ("a platypus", MAMMAL + ["monotreme"]), ("a turtle", REPTILE), ("a seahorse", ["fish"]),
    ("a spider", ["arachnid", "arachnids"]), ("a scorpion", ["arachnid", "arachnids"]),
    ("a newt", AMPHIBIAN), ("a lizard", REPTILE), ("a kiwi", ["bird", "birds"]),
]

# (question, aliases, fact, subject)
OTHER = [
    ("Which African animal has black and white stripes?", ["zebra", "zebras"],
     "The zebra is the African animal with black and white stripes.", "black and white stripes"),
    ("Which animal uses its long trunk to pick up food and water?", ["elephant", "elephants"],
     "The elephant uses its long trunk to pick up food and water.", "trunk"),
    ("Which caterpillar spins the cocoons that silk is made from?", ["silkworm", "silkworms", "silk moth"],
     "The silkworm spins the cocoons that silk is made from.", "cocoons"),
    ("Which bird is a traditional symbol of peace?", ["dove", "doves"],
     "The dove is a traditional symbol of peace.", "symbol of peace"),
    ("Which lizard is famous for changing colour?", ["chameleon", "chameleons"],
     "The chameleon is the lizard famous for changing colour.", "changing colour"),
    ("What is the largest species of cat?", ["tiger", "tigers", "Siberian tiger"],
     "The tiger is the largest species of cat.", "largest species of cat"),
    ("Which animal is called the ship of the desert?", ["camel", "camels"],
     "The camel is called the ship of the desert.", "ship of the desert"),
    ("Which Australian marsupial feeds almost only on eucalyptus leaves?", ["koala", "koalas"],
     "The koala feeds almost only on eucalyptus leaves.", "eucalyptus"),
    ("What does the giant panda mainly eat?", ["bamboo"],
     "The giant panda mainly eats bamboo.", "giant panda"),
    ("Which flightless black-and-white seabird lives in Antarctica?", ["penguin", "penguins", "emperor penguin"],
     "The penguin is the flightless black-and-white seabird of Antarctica.", "Antarctica"),
    ("What is the only mammal capable of true flight?", ["bat", "bats"],
     "The bat is the only mammal capable of true flight.", "true flight"),
    ("What is the largest species of bear?", ["polar bear", "polar bears"],
     "The polar bear is the largest species of bear.", "largest species of bear"),
    ("Which slow-moving mammal hangs upside down in the trees of South America?", ["sloth", "sloths"],
     "The sloth is the slow-moving mammal that hangs upside down in South American trees.", "upside down"),
    ("Which egg-laying mammal has a duck-like bill?", ["platypus", "duck-billed platypus", "platypuses"],
     "The platypus is the egg-laying mammal with a duck-like bill.", "duck-like bill"),
    ("What is the largest fish in the world?", ["whale shark", "whale sharks"],
     "The whale shark is the largest fish in the world.", "largest fish"),
    ("What do cows chew again after swallowing it once?", ["cud", "the cud"],
     "Cows chew the cud again after swallowing it once.", "chew again"),
    ("Which spiny rodent defends itself with sharp quills?", ["porcupine", "porcupines"],
     "The porcupine is the spiny rodent that defends itself with sharp quills.", "quills"),
    ("Which farm animal gives us wool?", ["sheep"], "The sheep is the farm animal that gives us wool.", "wool"),
    ("Which large African animal's name means river horse?", ["hippopotamus", "hippo", "hippos", "hippopotami"],
     "The hippopotamus is the African animal whose name means river horse.", "river horse"),
    ("Which African animal is known for a call that sounds like laughing?", ["hyena", "hyenas", "spotted hyena"],
     "The hyena is known for a call that sounds like laughing.", "laughing"),
    ("Which colourful bird can imitate human speech?", ["parrot", "parrots", "macaw", "African grey"],
     "The parrot is the colourful bird that can imitate human speech.", "human speech"),
    ("Which bird spreads a large colourful tail fan to attract a mate?", ["peacock", "peafowl", "peacocks"],
     "The peacock spreads a large colourful tail fan to attract a mate.", "tail fan"),
    ("What is the national bird of the United States?", ["bald eagle", "American bald eagle"],
     "The bald eagle is the national bird of the United States.", "national bird"),
    ("What kind of animal is a Dalmatian?", ["dog", "dogs"], "A Dalmatian is a breed of dog.", "Dalmatian"),
    ("What kind of animal is a Siamese?", ["cat", "cats"], "A Siamese is a breed of cat.", "Siamese"),
    ("What kind of animal is a Clydesdale?", ["horse", "horses"], "A Clydesdale is a breed of horse.", "Clydesdale"),
    ("What kind of animal is a Holstein?", ["cow", "cows", "cattle", "dairy cow"],
     "A Holstein is a breed of dairy cow.", "Holstein"),
    ("What kind of animal is a Merino?", ["sheep"], "A Merino is a breed of sheep.", "Merino"),
    ("What do anteaters mainly eat?", ["ants", "termites", "ants and termites"],
     "Anteaters mainly eat ants and termites.", "anteaters"),
    ("What do vampire bats feed on?", ["blood"], "Vampire bats feed on blood.", "vampire bats"),
    ("What do silkworms eat?", ["mulberry leaves", "mulberry"], "Silkworms eat mulberry leaves.", "silkworms eat"),
    ("Which insect glows in the dark to attract a mate?", ["firefly", "fireflies", "lightning bug", "glow-worm"],
     "The firefly glows in the dark to attract a mate.", "glows in the dark"),
    ("Which black-and-white bird of Europe is said to steal shiny objects?", ["magpie", "magpies"],
     "The magpie is the European bird said to steal shiny objects.", "shiny objects"),
    ("Which animal is the largest primate?", ["gorilla", "gorillas", "eastern gorilla"],
     "The gorilla is the largest primate.", "largest primate"),
    ("Which striped wild cat lives in India and Siberia?", ["tiger", "tigers"],
     "The tiger is the striped wild cat that lives in India and Siberia.", "India and Siberia"),
    ("What is a baby's first food from its mother in every mammal?", ["milk", "breast milk"],
     "Every mammal feeds its young on milk.", "first food"),
    ("Which bird is known for laying its eggs in other birds' nests?", ["cuckoo", "cuckoos"],
     "The cuckoo lays its eggs in other birds' nests.", "other birds' nests"),
    ("Which nocturnal bird is a traditional symbol of wisdom?", ["owl", "owls"],
     "The owl is a traditional symbol of wisdom.", "symbol of wisdom"),
    ("Which animal builds dams across rivers and streams?", ["beaver", "beavers"],
     "The beaver builds dams across rivers and streams.", "dams"),
    ("Which masked North American mammal with a ringed tail often raids rubbish bins?", ["raccoon", "raccoons", "racoon"],
     "The raccoon is the masked mammal with a ringed tail that raids rubbish bins.", "ringed tail"),
    ("Which black-and-white animal sprays a foul-smelling liquid to defend itself?", ["skunk", "skunks"],
     "The skunk sprays a foul-smelling liquid to defend itself.", "foul-smelling"),
    ("Which big cat is the only one whose males grow a mane?", ["lion", "lions"],
     "The lion is the only big cat whose males grow a mane.", "mane"),
    ("What is the hard part of a horse's foot called?", ["hoof", "hooves", "hoofs"],
     "The hard part of a horse's foot is called a hoof.", "horse's foot"),
    ("What is the hard covering on a turtle's back called?", ["shell", "carapace"],
     "The hard covering on a turtle's back is called a shell.", "turtle's back"),
    ("Which large vulture of the Andes has one of the largest wingspans of any land bird?",
     ["Andean condor", "condor", "condors"],
     "The Andean condor is the large vulture of the Andes.", "vulture of the Andes"),
    ("Which farm bird lays most of the eggs that people eat?", ["chicken", "chickens", "hen", "hens"],
     "The chicken lays most of the eggs that people eat.", "eggs that people eat"),
]


def _questions() -> list[dict]:
    out = []
    for animal, names in YOUNG:
        article = "an" if animal[0] in "aeiou" else "a"
        out.append(q(f"What is a young {animal} called?", names, f"A young {animal} is called {article} {names[0]}.",
                     f"young {animal}"))
    for animals, names in GROUPS:
        out.append(q(f"What is a group of {animals} called?", names, f"A group of {animals} is called a {names[0]}.",
                     f"group of {animals}"))
    for question, names in SEXES:
        subject = question.removeprefix("What is ").removesuffix(" called?")
        out.append(q(question, names, f"{subject[0].upper()}{subject[1:]} is called a {names[0]}.", subject))
    for animal, names in SOUNDS:
        out.append(q(f"What sound does a {animal} make?", names, f"The sound a {animal} makes is a {names[0]}.",
                     f"sound does a {animal}"))
    for question, names, fact, subject in HOMES:
        out.append(q(question, names, fact, subject))
    for animal, names in KINDS:
        out.append(q(f"What class of animals does {animal} belong to?", names,
                     f"{animal[0].upper()}{animal[1:]} is {'an' if names[0][0] in 'aeiou' else 'a'} {names[0]}.",
                     f"does {animal} belong"))
    for question, names, fact, subject in OTHER:
        out.append(q(question, names, fact, subject))
    return out


QUESTIONS = _questions()

# True sentences about animal facts that no question asks about.
DISTRACTORS = [
    "A young swan is a bird that turns white as it grows.",
    "A young hedgehog is called a hoglet.",
    "A young pigeon is called a squab.",
    "A young oyster is called a spat.",
    "A young llama is called a cria.",
    "A young echidna is called a puggle.",
    "A young cod is called a codling.",
    "A young salmon that has just hatched is called an alevin.",
    "A group of jellyfish is called a smack.",
    "A group of zebras is called a dazzle.",
    "A group of rhinoceroses is called a crash.",
    "A group of hippopotamuses is called a bloat.",
    "A group of ferrets is called a business.",
    "A group of parrots is called a pandemonium.",
    "A group of porcupines is called a prickle.",
    "A group of giraffes is called a tower.",
    "A female donkey is called a jenny.",
    "A male donkey is called a jack.",
    "A female swan is called a pen.",
    "A male swan is called a cob.",
    "A female ferret is called a jill.",
    "A male ferret is called a hob.",
    "A female goat is called a nanny.",
    "A male goat is called a billy.",
    "A male turkey is called a tom.",
    "A female elephant is called a cow.",
    "A male elephant is called a bull.",
    "The sound a crow makes is a caw.",
    "The sound a turkey makes is a gobble.",
    "The sound a hyena makes is often called a whoop.",
    "The sound an elephant makes is a trumpet.",
    "The sound a mouse makes is a squeak.",
    "The sound a dove makes is a coo.",
    "The sound a goose makes is a honk.",
    "The home of an otter is called a holt.",
    "The home of a badger is called a sett.",
    "The home of a hare is a shallow hollow called a form.",
    "The home of a wasp colony is called a nest or vespiary.",
    "An otter is a mammal of the weasel family.",
    "A toad is an amphibian with dry, warty skin.",
    "A tortoise is a reptile that lives on land.",
    "A whale is a mammal that breathes air.",
    "A tuna is a fast-swimming fish.",
    "An ostrich cannot fly.",
    "The emu is a large flightless bird of Australia.",
    "The capybara is the largest living rodent.",
    "The anaconda is one of the heaviest snakes.",
    "The blue-ringed octopus is one of the most venomous sea animals.",
    "The African elephant has larger ears than the Asian elephant.",
    "The arctic tern makes one of the longest migrations of any bird.",
    "The axolotl is a salamander that keeps its gills as an adult.",
    "The red panda mainly eats bamboo too, but it is not a bear.",
    "The narwhal has a long spiral tusk.",
    "The pangolin is covered in scales.",
    "The okapi is the closest living relative of the giraffe.",
    "The mandrill is a monkey with a colourful face.",
    "The wombat produces cube-shaped droppings.",
    "The Tasmanian devil is a carnivorous marsupial.",
    "The hummingbird feeds on nectar.",
    "The koi is an ornamental variety of carp.",
    "A Labrador retriever is a breed of dog.",
    "A Persian is a breed of cat.",
    "A Shetland is a breed of pony.",
    "A Jersey is a breed of dairy cow.",
    "A Suffolk is a breed of sheep.",
    "A Saanen is a breed of goat.",
    "Manatees eat sea grass.",
    "Leeches feed on blood.",
    "Caterpillars of the cabbage white butterfly eat cabbage leaves.",
    "Glow-worms are the larvae or wingless females of certain beetles.",
    "Jackdaws are small crows that nest in chimneys.",
    "The orangutan is the largest tree-dwelling animal.",
    "The snow leopard lives in the mountains of Central Asia.",
    "Lions live in groups on the African savanna.",
    "Many mammals wean their young onto solid food after a few weeks.",
]

# Distractors checked by hand to state a different true fact than the question on related words.
REVIEWED_RELATED: set[str] = set()
