"""Food and drink: the country a dish, cheese or drink comes from, what a food is made from, what
kind of food something is, and other kitchen facts.

A fresh held-out domain (issue 14, third round), written with `mythology` after `numbers`, `art`
and `animals` had each been used as a held-out domain and had joined the training domains.
Written and committed before any scorer was run on it. Dishes whose country of origin is
disputed (hummus, falafel, baklava, pavlova, borscht, croissant) are not asked for a country;
a country's adjective counts as naming it ("a Spanish dish").
"""

from .common import as_written, q

SPAIN = ["Spain", "Spanish"]
ITALY = ["Italy", "Italian"]
JAPAN = ["Japan", "Japanese"]
MEXICO = ["Mexico", "Mexican"]
FRANCE = ["France", "French"]
GREECE = ["Greece", "Greek"]
GERMANY = ["Germany", "German"]
KOREA = ["South Korea", "Korea", "Korean"]
SWISS = ["Switzerland", "Swiss"]
NETHERLANDS = ["the Netherlands", "Netherlands", "Holland", "Dutch"]
INDONESIA = ["Indonesia", "Indonesian"]
CHINA = ["China", "Chinese"]
UK_ENGLAND = ["England", "English", "United Kingdom", "UK", "Britain", "British"]

# (the food as asked, aliases of its country)
ORIGIN = [
    ("the rice dish paella", SPAIN), ("sushi", JAPAN), ("the taco", MEXICO), ("kimchi", KOREA),
    ("pad thai", ["Thailand", "Thai"]), ("goulash", ["Hungary", "Hungarian"]), ("haggis", ["Scotland", "Scottish"]),
    ("pierogi", ["Poland", "Polish"]), ("feijoada", ["Brazil", "Brazilian"]), ("ceviche", ["Peru", "Peruvian"]),
    ("poutine", ["Canada", "Canadian", "Quebec"]), ("pho", ["Vietnam", "Vietnamese"]),
    ("Wiener schnitzel", ["Austria", "Austrian"]), ("the bratwurst sausage", GERMANY), ("tempura", JAPAN),
    ("bibimbap", KOREA), ("nasi goreng", INDONESIA), ("rendang", INDONESIA), ("risotto", ITALY),
    ("guacamole", MEXICO), ("enchiladas", MEXICO),
    ("ratatouille", FRANCE), ("bouillabaisse", FRANCE), ("coq au vin", FRANCE), ("moussaka", GREECE),
    ("the stroopwafel", NETHERLANDS), ("fondue", SWISS), ("injera", ["Ethiopia", "Ethiopian"]),
    ("bobotie", ["South Africa", "South African"]), ("Peking duck", CHINA), ("dim sum", CHINA),
    ("the tagine", ["Morocco", "Moroccan"]), ("smorrebrod", ["Denmark", "Danish"]),
    ("the Cornish pasty", UK_ENGLAND), ("tandoori chicken", ["India", "Indian"]),
    ("jambalaya", ["United States", "USA", "America", "American", "Louisiana"]),
    ("churrasco", ["Brazil", "Brazilian"]), ("pastel de nata", ["Portugal", "Portuguese"]),
    ("the pretzel", GERMANY), ("gyoza", JAPAN), ("spanakopita", GREECE),
    ("arepas", ["Venezuela", "Colombia", "Venezuelan", "Colombian"]), ("lasagne", ITALY),
]

# (cheese, aliases of its country)
CHEESE = [
    ("Gouda", NETHERLANDS), ("Parmesan", ITALY), ("Feta", GREECE), ("Roquefort", FRANCE), ("Cheddar", UK_ENGLAND),
    ("Manchego", SPAIN), ("Camembert", FRANCE), ("Halloumi", ["Cyprus", "Cypriot"]), ("Emmental", SWISS),
    ("Gruyere", SWISS), ("Edam", NETHERLANDS), ("Gorgonzola", ITALY), ("Stilton", UK_ENGLAND),
]

# (drink, aliases of its country)
DRINK = [
    ("tequila", MEXICO), ("sake", JAPAN), ("port wine", ["Portugal", "Portuguese"]), ("ouzo", GREECE),
    ("Champagne", FRANCE), ("sangria", SPAIN), ("grappa", ITALY), ("pisco", ["Peru", "Chile", "Peruvian", "Chilean"]),
    ("Guinness stout", ["Ireland", "Irish"]), ("soju", KOREA),
]

# (food as asked, aliases of its main ingredient)
INGREDIENT = [
    ("guacamole", ["avocado", "avocados"]), ("hummus", ["chickpeas", "chickpea", "chick peas", "garbanzo beans", "garbanzo"]),
    ("tofu", ["soybeans", "soybean", "soy", "soya", "soya beans", "soy beans", "soy milk"]),
    ("sauerkraut", ["cabbage"]), ("traditional pesto", ["basil"]), ("popcorn", ["corn", "maize"]),
    ("polenta", ["cornmeal", "maize", "corn"]), ("couscous", ["semolina", "durum wheat", "wheat"]),
    ("meringue", ["egg whites", "egg white", "eggs"]), ("marzipan", ["almonds", "almond"]),
    ("baba ganoush", ["aubergine", "eggplant", "aubergines", "eggplants"]), ("Indian dal", ["lentils", "lentil", "pulses"]),
    ("tahini", ["sesame", "sesame seeds"]), ("cider", ["apples", "apple"]), ("wine", ["grapes", "grape"]),
    ("tequila", ["agave", "blue agave"]), ("rum", ["sugarcane", "sugar cane", "molasses"]),
    ("borscht", ["beetroot", "beets", "beet"]), ("gnocchi", ["potato", "potatoes"]),
    ("caviar", ["fish eggs", "roe", "sturgeon roe", "sturgeon eggs"]), ("ketchup", ["tomatoes", "tomato"]),
    ("chocolate", ["cocoa beans", "cocoa", "cacao", "cacao beans"]), ("coleslaw", ["cabbage"]),
    ("an omelette", ["eggs", "egg"]), ("traditional Japanese sake", ["rice"]), ("mead", ["honey"]),
    ("traditional tortilla chips", ["corn", "maize"]), ("French fries", ["potatoes", "potato"]),
]

# (food, aliases of what kind of food it is)
KIND = [
    ("prosciutto", ["ham", "cured ham", "pork"]), ("chorizo", ["sausage", "sausages"]), ("a baguette", ["bread"]),
    ("naan", ["bread", "flatbread"]), ("penne", ["pasta"]), ("linguine", ["pasta"]), ("brie", ["cheese"]),
    ("paneer", ["cheese"]), ("edamame", ["soybeans", "soybean", "soy beans", "beans"]),
    ("a durian", ["fruit"]), ("a lychee", ["fruit"]), ("okra", ["vegetable"]), ("shiitake", ["mushroom", "mushrooms"]),
    ("calamari", ["squid"]), ("escargot", ["snails", "snail"]), ("an anchovy", ["fish"]),
    ("a plantain", ["banana", "bananas", "fruit"]), ("saffron", ["spice"]), ("cardamom", ["spice"]),
    ("a truffle found by pigs and dogs", ["fungus", "mushroom", "fungi"]), ("kohlrabi", ["vegetable", "cabbage"]),
    ("quinoa", ["seed", "seeds", "grain", "grains", "pseudocereal"]), ("a scone", ["cake", "bread", "baked good"]),
    ("venison", ["deer", "deer meat", "meat"]),
]

# (question, aliases, fact, subject)
OTHER = [
    ("Which spice gives curry its yellow colour?", ["turmeric"], "Turmeric gives curry its yellow colour.",
     "yellow colour"),
    ("Which spice, taken from the stigmas of a crocus, is the most expensive by weight?", ["saffron"],
     "Saffron, from the stigmas of a crocus, is the most expensive spice by weight.", "stigmas of a crocus"),
    ("What is the powdered green tea of Japan called?", ["matcha"], "Matcha is the powdered green tea of Japan.",
     "powdered green tea"),
    ("What is the name of the fermented, slightly fizzy tea drink made with a culture of yeast and bacteria?",
     ["kombucha"], "Kombucha is a fermented tea drink made with a culture of yeast and bacteria.", "slightly fizzy tea"),
    ("From which root is tapioca made?", ["cassava", "manioc", "yuca"], "Tapioca is made from the root of cassava.",
     "tapioca"),
    ("What is the bow-tie-shaped pasta called?", ["farfalle"], "The bow-tie-shaped pasta is called farfalle.",
     "bow-tie"),
    ("What is the small rice-shaped pasta called?", ["orzo", "risoni"], "The small rice-shaped pasta is called orzo.",
     "rice-shaped"),
    ("What is a dried plum called?", ["prune", "prunes"], "A dried plum is called a prune.", "dried plum"),
    ("What is a dried grape called?", ["raisin", "raisins", "sultana", "currant"], "A dried grape is called a raisin.",
     "dried grape"),
    ("Which nuts are used in a traditional Genoese pesto besides basil?", ["pine nuts", "pine nut", "pignoli"],
     "A traditional Genoese pesto uses pine nuts.", "Genoese"),
    ("Which Italian dessert's name means pick me up?", ["tiramisu"], "Tiramisu is the Italian dessert whose name "
     "means pick me up.", "pick me up"),
    ("Which French sauce is made from butter, egg yolks and lemon juice?", ["hollandaise", "hollandaise sauce"],
     "Hollandaise is made from butter, egg yolks and lemon juice.", "egg yolks and lemon"),
    ("What is the Japanese dish of thin slices of raw fish without rice called?", ["sashimi"],
     "Sashimi is the Japanese dish of thin slices of raw fish without rice.", "without rice"),
    ("What are the small shared dishes of Spanish bars called?", ["tapas", "tapa"],
     "Tapas are the small shared dishes of Spanish bars.", "small shared dishes"),
    ("Which Middle Eastern salad is made mainly of bulgur wheat and parsley?", ["tabbouleh", "tabouli", "tabbouli"],
     "Tabbouleh is a salad made mainly of bulgur wheat and parsley.", "bulgur"),
    ("What is the clarified butter of Indian cooking called?", ["ghee"], "Ghee is the clarified butter of Indian cooking.",
     "clarified butter"),
    ("What is the Japanese paste of fermented soybeans used in soup called?", ["miso"],
     "Miso is the Japanese paste of fermented soybeans.", "fermented soybeans"),
    ("What is the thin Italian breadstick called?", ["grissini", "grissino"], "The thin Italian breadstick is called grissini.",
     "breadstick"),
    ("Which vegetable is carved into a jack-o'-lantern at Halloween?", ["pumpkin", "pumpkins"],
     "A pumpkin is carved into a jack-o'-lantern at Halloween.", "jack-o'-lantern"),
    ("Which fruit of Southeast Asia is known as the king of fruits for its smell and spikes?", ["durian", "durians"],
     "The durian is known as the king of fruits.", "king of fruits"),
    ("What kind of milk is traditional Roquefort made from?", ["sheep's milk", "sheep milk", "ewe's milk", "sheep",
                                                              "ewe milk"],
     "Traditional Roquefort is made from sheep's milk.", "Roquefort made"),
    ("Milk of which animal is used for traditional mozzarella in Campania?", ["water buffalo", "buffalo"],
     "Traditional mozzarella in Campania uses the milk of the water buffalo.", "Campania"),
    ("Which fish is smoked or cured to make lox?", ["salmon"], "Salmon is cured to make lox.", "lox"),
    ("What is the Japanese horseradish-like green paste served with sushi?", ["wasabi"],
     "Wasabi is the green paste served with sushi.", "green paste"),
    ("What is the flat round Italian bread topped with tomato and mozzarella?", ["pizza", "pizzas"],
     "A pizza is a flat round Italian bread topped with tomato and mozzarella.", "flat round Italian bread"),
    ("Which Mexican sauce is made of chilli and chocolate?", ["mole", "mole poblano"],
     "Mole is the Mexican sauce made of chilli and chocolate.", "chilli and chocolate"),
    ("Which cold Spanish soup is made from raw tomatoes?", ["gazpacho"], "Gazpacho is the cold Spanish soup of raw "
     "tomatoes.", "cold Spanish soup"),
    ("What is the rolled Japanese dish of rice and fillings in seaweed called?", ["maki", "makizushi", "sushi roll",
                                                                                 "sushi"],
     "Maki is rice and fillings rolled in seaweed.", "rolled Japanese"),
    ("What is the dried seaweed used to wrap sushi called?", ["nori"], "Nori is the dried seaweed used to wrap sushi.",
     "wrap sushi"),
    ("Which fruit has varieties called Granny Smith and Fuji?", ["apple", "apples"],
     "Granny Smith and Fuji are varieties of apple.", "Granny Smith"),
    ("Which fruit has a variety called Cavendish?", ["banana", "bananas"], "The Cavendish is a variety of banana.",
     "Cavendish"),
    ("Which vegetable has varieties called Maris Piper and King Edward?", ["potato", "potatoes"],
     "Maris Piper and King Edward are varieties of potato.", "Maris Piper"),
    ("What is the main grain of Japanese cooking?", ["rice"], "Rice is the main grain of Japanese cooking.",
     "grain of Japanese"),
    ("Which bean is used to make baked beans in tomato sauce?", ["haricot", "haricot bean", "navy bean", "navy beans",
                                                               "haricot beans"],
     "Baked beans are made from the haricot bean.", "baked beans"),
    ("What is the sweet spread that bees make from nectar?", ["honey"], "Bees make honey from nectar.",
     "bees make"),
    ("Which brown Australian spread is made from yeast extract?", ["Vegemite"],
     "Vegemite is the Australian spread made from yeast extract.", "Australian spread"),
    ("What is the Indian yogurt drink, sweet or salty, called?", ["lassi"], "Lassi is the Indian yogurt drink.",
     "yogurt drink"),
    ("What is the Greek dip of yogurt, cucumber and garlic called?", ["tzatziki"],
     "Tzatziki is the Greek dip of yogurt, cucumber and garlic.", "cucumber and garlic"),
    ("What is the Turkish word for meat grilled on a skewer?", ["kebab", "kebap", "shish kebab"],
     "Kebab is the Turkish word for meat grilled on a skewer.", "skewer"),
    ("Which Italian coffee is topped with steamed milk foam?", ["cappuccino"],
     "A cappuccino is topped with steamed milk foam.", "milk foam"),
    ("What is a strong coffee forced through fine grounds under pressure called?", ["espresso"],
     "Espresso is strong coffee forced through fine grounds under pressure.", "under pressure"),
]


def _questions() -> list[dict]:
    out = []
    for food, names in ORIGIN:
        out.append(q(f"Which country does {food} come from?", names, f"{food[0].upper()}{food[1:]} comes from "
                     f"{names[0]}.", f"{food} come"))
    for cheese, names in CHEESE:
        out.append(q(f"Which country does {cheese} cheese come from?", names,
                     f"{cheese} cheese comes from {names[0]}.", f"{cheese} cheese"))
    for drink, names in DRINK:
        out.append(q(f"In which country was {drink} first made?", names, f"{drink[0].upper()}{drink[1:]} was first "
                     f"made in {names[0]}.", f"{drink} first made"))
    for food, names in INGREDIENT:
        out.append(q(f"What is the main ingredient of {food}?", names,
                     f"The main ingredient of {food} is {names[0]}.", f"ingredient of {food}"))
    for food, names in KIND:
        out.append(q(f"What kind of food is {food}?", names, f"{food[0].upper()}{food[1:]} is a kind of {names[0]}.",
                     f"food is {food}"))
    for question, names, fact, subject in OTHER:
        out.append(q(question, as_written(names, fact), fact, subject))
    return out


QUESTIONS = _questions()

# (food, fact about it): dishes, drinks and ingredients no question asks about.
UNASKED = [
    ("Jollof rice", "a West African rice dish cooked with tomatoes and peppers"),
    ("Shakshuka", "a dish of eggs poached in a tomato and pepper sauce"),
    ("Ramen", "a noodle soup popular in Japan"), ("Laksa", "a spicy noodle soup of Southeast Asia"),
    ("Pozole", "a Mexican stew of hominy and meat"), ("Tamales", "parcels of corn dough steamed in husks"),
    ("Empanadas", "baked or fried turnovers with a savoury filling"), ("Biryani", "a layered rice dish with spices and meat"),
    ("Samosas", "fried pastries filled with spiced potato"), ("Pakoras", "vegetables fried in chickpea batter"),
    ("Bangers and mash", "sausages served with mashed potato"), ("Shepherd's pie", "minced lamb topped with mashed potato"),
    ("Toad in the hole", "sausages baked in batter"), ("Welsh rarebit", "cheese sauce on toast"),
    ("Irish stew", "a stew of lamb, potatoes and onions"), ("Cullen skink", "a smoked haddock soup"),
    ("Clam chowder", "a thick soup of clams and potatoes"), ("Gumbo", "a thick stew of Louisiana thickened with okra"),
    ("Cornbread", "a quick bread made with cornmeal"), ("Key lime pie", "a pie of lime juice and condensed milk"),
    ("Pumpkin pie", "a pie traditionally eaten at Thanksgiving"), ("Poke", "a salad of cubed raw fish from Hawaii"),
    ("Bulgogi", "thin slices of marinated grilled beef"), ("Tteokbokki", "chewy rice cakes in a red chilli sauce"),
    ("Banh mi", "a sandwich in a crisp baguette roll"), ("Tom yum", "a hot and sour soup"),
    ("Massaman curry", "a mild curry with peanuts and potatoes"), ("Satay", "meat grilled on sticks with peanut sauce"),
    ("Char siu", "barbecued pork with a sweet red glaze"), ("Kung pao chicken", "chicken stir-fried with peanuts and chillies"),
    ("Mapo tofu", "bean curd in a spicy chilli and bean sauce"), ("Xiaolongbao", "steamed soup dumplings"),
    ("Okonomiyaki", "a savoury pancake with cabbage"), ("Takoyaki", "batter balls filled with octopus"),
    ("Onigiri", "a rice ball wrapped in seaweed"), ("Udon", "thick wheat noodles"),
    ("Soba", "thin buckwheat noodles"), ("Mochi", "a sweet cake of pounded glutinous rice"),
    ("Dolma", "vine leaves stuffed with rice"), ("Pilaf", "rice cooked in a seasoned broth"),
    ("Kofta", "balls of spiced minced meat"), ("Shawarma", "meat roasted on a turning spit and sliced thin"),
    ("Baklava", "layers of filo pastry with nuts and honey syrup"), ("Halva", "a dense sweet of sesame paste or semolina"),
    ("Lokum", "a soft sweet of starch and sugar, also called Turkish delight"),
    ("Borek", "a filled pastry made of thin dough"), ("Pastitsio", "baked pasta with minced meat and bechamel"),
    ("Souvlaki", "small pieces of meat grilled on a stick"), ("Dolmades", "stuffed grape leaves"),
    ("Carbonara", "a pasta sauce of egg, cheese and cured pork"), ("Osso buco", "braised veal shanks"),
    ("Arancini", "fried balls of rice stuffed with ragu"), ("Focaccia", "a flat oven-baked bread with olive oil"),
    ("Panettone", "a sweet bread loaf eaten at Christmas"), ("Cannoli", "fried pastry tubes filled with ricotta"),
    ("Gelato", "a dense frozen dessert"), ("Minestrone", "a thick vegetable soup with pasta or rice"),
    ("Bruschetta", "grilled bread rubbed with garlic and topped with tomato"),
    ("Crema catalana", "a custard with a burnt sugar crust"), ("Tortilla espanola", "a thick omelette of potato and egg"),
    ("Jamon iberico", "a cured ham from black pigs"), ("Fabada", "a rich bean stew from Asturias"),
    ("Cassoulet", "a slow-cooked casserole of beans and meat"), ("Quiche", "a savoury tart of eggs and cream"),
    ("Croque monsieur", "a hot ham and cheese sandwich"), ("Creme brulee", "a rich custard under a layer of hard caramel"),
    ("Tarte tatin", "an upside-down apple tart"), ("Souffle", "a light baked dish of whipped egg whites"),
    ("Madeleines", "small shell-shaped sponge cakes"), ("Macarons", "sandwich cookies of almond meringue"),
    ("Sachertorte", "a chocolate cake with apricot jam"), ("Apfelstrudel", "layers of thin pastry around spiced apple"),
    ("Spaetzle", "small soft egg noodles"), ("Currywurst", "a sliced sausage with curry ketchup"),
    ("Black Forest gateau", "a chocolate cake with cherries and cream"), ("Lebkuchen", "a spiced honey biscuit"),
    ("Rosti", "a fried cake of grated potato"), ("Raclette", "a melted cheese scraped onto potatoes"),
    ("Bitterballen", "deep-fried balls of meat ragout"), ("Poffertjes", "small fluffy pancakes"),
    ("Waterzooi", "a creamy stew of fish or chicken"), ("Smorgasbord", "a buffet of many cold and hot dishes"),
    ("Gravlax", "salmon cured with salt, sugar and dill"), ("Surstromming", "fermented Baltic herring"),
    ("Lutefisk", "dried fish soaked in lye"), ("Karelian pasties", "rye crusts filled with rice porridge"),
    ("Blini", "thin pancakes often served with sour cream"), ("Pelmeni", "small dumplings filled with minced meat"),
    ("Beef Stroganoff", "strips of beef in a sour cream sauce"), ("Khachapuri", "a boat-shaped bread filled with cheese"),
    ("Plov", "rice cooked with carrots and lamb"), ("Bigos", "a hunter's stew of cabbage and meat"),
    ("Trdelnik", "a sweet pastry rolled on a stick"), ("Sarma", "cabbage leaves rolled around minced meat"),
    ("Cevapi", "small grilled minced meat sausages"), ("Mici", "grilled skinless sausages"),
    ("Feijao tropeiro", "beans mixed with manioc flour and bacon"), ("Chimichurri", "a green sauce of parsley and garlic"),
    ("Dulce de leche", "a caramel made by slowly heating sweetened milk"), ("Brigadeiro", "a chocolate truffle sweet"),
    ("Lomo saltado", "a stir-fry of beef, onions and tomatoes with chips"), ("Ackee and saltfish", "a dish of ackee fruit with salt cod"),
    ("Jerk chicken", "chicken rubbed with a hot spice mixture and grilled"), ("Roti", "an unleavened flatbread"),
    ("Mandazi", "a slightly sweet fried bread"), ("Ugali", "a stiff porridge of maize flour"),
    ("Bunny chow", "a hollowed-out loaf filled with curry"), ("Biltong", "dried and cured strips of meat"),
    ("Fufu", "a dough of pounded starchy vegetables"), ("Thieboudienne", "a dish of fish, rice and tomato"),
    ("Lamingtons", "squares of sponge cake coated in chocolate and coconut"),
    ("Anzac biscuits", "oat and golden syrup biscuits"), ("Hangi", "food cooked in an earth oven"),
]
_PLURAL = {"Tamales", "Empanadas", "Samosas", "Pakoras", "Madeleines", "Macarons", "Bitterballen", "Poffertjes",
           "Blini", "Pelmeni", "Cevapi", "Mici", "Lamingtons", "Anzac biscuits", "Dolmades", "Cannoli", "Spaetzle",
           "Karelian pasties"}
DISTRACTORS = [f"{who} {'are' if who in _PLURAL else 'is'} {what}." for who, what in UNASKED]

# Distractors checked by hand to state a different true fact than the question on related words.
REVIEWED_RELATED: set[str] = set()
