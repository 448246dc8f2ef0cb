"""Geography without capitals: continents, currencies, languages, landmarks, superlatives.

No question asks for, or mentions, a country's capital city (that domain is reserved).
"""

from .common import q

EUROPE = ["Europe"]
ASIA = ["Asia"]
AFRICA = ["Africa"]
NAM = ["North America"]
SAM = ["South America"]

CONTINENT = [
    ("France", EUROPE), ("Germany", EUROPE), ("Italy", EUROPE), ("Spain", EUROPE),
    ("Portugal", EUROPE), ("Poland", EUROPE), ("Sweden", EUROPE), ("Norway", EUROPE),
    ("Finland", EUROPE), ("the Netherlands", EUROPE), ("Belgium", EUROPE), ("Austria", EUROPE),
    ("Switzerland", EUROPE), ("Hungary", EUROPE), ("Ireland", EUROPE), ("Romania", EUROPE),
    ("Ukraine", EUROPE), ("Iceland", EUROPE),
    ("China", ASIA), ("Japan", ASIA), ("India", ASIA), ("Thailand", ASIA), ("Vietnam", ASIA),
    ("Mongolia", ASIA), ("Nepal", ASIA), ("Pakistan", ASIA), ("Bangladesh", ASIA),
    ("the Philippines", ASIA), ("South Korea", ASIA), ("Iran", ASIA), ("Iraq", ASIA),
    ("Saudi Arabia", ASIA), ("Afghanistan", ASIA), ("Laos", ASIA), ("Sri Lanka", ASIA),
    ("Malaysia", ASIA),
    ("Nigeria", AFRICA), ("Kenya", AFRICA), ("Ethiopia", AFRICA), ("Ghana", AFRICA),
    ("Morocco", AFRICA), ("Algeria", AFRICA), ("Uganda", AFRICA), ("Zambia", AFRICA),
    ("Zimbabwe", AFRICA), ("Senegal", AFRICA), ("Mali", AFRICA), ("Angola", AFRICA),
    ("Madagascar", AFRICA), ("Botswana", AFRICA), ("Namibia", AFRICA), ("Cameroon", AFRICA),
    ("Canada", NAM), ("Mexico", NAM),
    ("Brazil", SAM), ("Argentina", SAM), ("Chile", SAM), ("Peru", SAM), ("Colombia", SAM),
    ("Venezuela", SAM), ("Bolivia", SAM), ("Ecuador", SAM), ("Uruguay", SAM), ("Paraguay", SAM),
]

# (country, currency aliases); the first alias is the plain name of the currency.
CURRENCY = [
    ("Japan", ["yen", "Japanese yen"]),
    ("the United Kingdom", ["pound sterling", "pound", "sterling", "British pound", "GBP"]),
    ("India", ["rupee", "Indian rupee", "INR"]),
    ("China", ["renminbi", "yuan", "Chinese yuan", "RMB", "CNY"]),
    ("Russia", ["ruble", "rouble", "Russian ruble", "Russian rouble"]),
    ("Mexico", ["peso", "Mexican peso"]),
    ("Brazil", ["real", "Brazilian real", "reais"]),
    ("South Africa", ["rand", "South African rand"]),
    ("Switzerland", ["Swiss franc", "franc", "CHF"]),
    ("Thailand", ["baht", "Thai baht"]),
    ("Poland", ["złoty", "zloty", "Polish zloty"]),
    ("Sweden", ["krona", "Swedish krona", "kronor"]),
    ("Norway", ["krone", "Norwegian krone", "kroner"]),
    ("Denmark", ["krone", "Danish krone", "kroner"]),
    ("Israel", ["shekel", "new shekel", "Israeli new shekel", "sheqel"]),
    ("Turkey", ["lira", "Turkish lira"]),
    ("Saudi Arabia", ["riyal", "Saudi riyal"]),
    ("Vietnam", ["đồng", "dong", "Vietnamese dong"]),
    ("Indonesia", ["rupiah", "Indonesian rupiah"]),
    ("Nigeria", ["naira", "Nigerian naira"]),
    ("Australia", ["Australian dollar", "AUD", "Australian dollars"]),
    ("Canada", ["Canadian dollar", "CAD", "Canadian dollars"]),
    ("the United States", ["United States dollar", "US dollar", "U.S. dollar", "dollar", "USD"]),
    ("Malaysia", ["ringgit", "Malaysian ringgit"]),
    ("Hungary", ["forint", "Hungarian forint"]),
    ("the Czech Republic", ["Czech koruna", "koruna", "Czech crown"]),
    ("Kenya", ["Kenyan shilling", "shilling"]),
    ("Bangladesh", ["taka", "Bangladeshi taka"]),
    ("Ukraine", ["hryvnia", "hryvnya", "Ukrainian hryvnia"]),
    ("Ghana", ["cedi", "Ghanaian cedi"]),
    ("Peru", ["sol", "Peruvian sol", "nuevo sol"]),
    ("Germany", ["euro"]), ("Italy", ["euro"]), ("Ireland", ["euro"]),
    ("South Korea", ["South Korean won", "Korean won"]),
]

# "the main language spoken in" (countries with one clearly dominant language only)
LANGUAGE = [
    ("Brazil", ["Portuguese"]), ("Portugal", ["Portuguese"]), ("Argentina", ["Spanish"]),
    ("Chile", ["Spanish"]), ("Colombia", ["Spanish"]), ("Iran", ["Persian", "Farsi"]),
    ("the Netherlands", ["Dutch"]), ("Austria", ["German"]), ("Poland", ["Polish"]),
    ("Greece", ["Greek"]), ("Turkey", ["Turkish"]), ("Thailand", ["Thai"]),
    ("Vietnam", ["Vietnamese"]), ("Egypt", ["Arabic", "Egyptian Arabic"]),
    ("Saudi Arabia", ["Arabic"]), ("Sweden", ["Swedish"]), ("Norway", ["Norwegian"]),
    ("Denmark", ["Danish"]), ("Finland", ["Finnish"]), ("Hungary", ["Hungarian", "Magyar"]),
    ("the Czech Republic", ["Czech"]), ("Romania", ["Romanian"]), ("Israel", ["Hebrew"]),
    ("Bangladesh", ["Bengali", "Bangla"]),
    ("Indonesia", ["Indonesian", "Bahasa Indonesia"]),
    ("Mongolia", ["Mongolian"]), ("Iceland", ["Icelandic"]), ("Japan", ["Japanese"]),
    ("South Korea", ["Korean"]), ("Germany", ["German"]), ("France", ["French"]),
    ("Italy", ["Italian"]), ("Russia", ["Russian"]), ("Ukraine", ["Ukrainian"]),
    ("Cambodia", ["Khmer", "Cambodian"]), ("Nepal", ["Nepali", "Nepalese"]),
]

# (landmark, country aliases)
US = ["the United States", "United States", "United States of America", "USA", "U.S.A.",
      "U.S.", "America"]
UK = ["the United Kingdom", "United Kingdom", "UK", "Britain", "Great Britain", "England"]
LANDMARK = [
    ("Machu Picchu", ["Peru"]), ("the Taj Mahal", ["India"]), ("Angkor Wat", ["Cambodia"]),
    ("Petra", ["Jordan"]), ("Chichen Itza", ["Mexico"]), ("the Colosseum", ["Italy"]),
    ("the Acropolis", ["Greece"]), ("the Statue of Liberty", US),
    ("the Christ the Redeemer statue", ["Brazil"]), ("Stonehenge", UK),
    ("the Eiffel Tower", ["France"]), ("the Sagrada Família basilica", ["Spain"]),
    ("Neuschwanstein Castle", ["Germany"]), ("Mount Rushmore", US),
    ("Uluru", ["Australia"]), ("Table Mountain", ["South Africa"]),
    ("the Alhambra", ["Spain"]), ("Borobudur", ["Indonesia"]),
    ("the Pyramids of Giza", ["Egypt"]), ("the Leaning Tower of Pisa", ["Italy"]),
    ("the Burj Khalifa", ["the United Arab Emirates", "United Arab Emirates", "UAE",
                          "U.A.E.", "Dubai"]),
    ("the Sydney Opera House", ["Australia"]), ("the Golden Gate Bridge", US),
    ("the Petronas Towers", ["Malaysia"]), ("Mount Fuji", ["Japan"]),
    ("the Serengeti National Park", ["Tanzania"]), ("Mount Kilimanjaro", ["Tanzania"]),
]

# (island or region, country aliases, verb phrase)
ISLAND = [
    ("Sicily", ["Italy"]), ("Corsica", ["France"]), ("Tasmania", ["Australia"]),
    ("Crete", ["Greece"]), ("Bali", ["Indonesia"]), ("Hokkaido", ["Japan"]),
    ("Sardinia", ["Italy"]), ("Majorca", ["Spain"]), ("Madeira", ["Portugal"]),
    ("Zanzibar", ["Tanzania"]), ("Greenland", ["Denmark"]), ("Hawaii", US),
]

# Free-form questions: (question, answers, fact, subject)
OTHER = [
    ("What is the longest river in Africa?", ["Nile", "River Nile", "Nile River"],
     "The Nile is the longest river in Africa.", "longest river in Africa"),
    ("What is the largest ocean on Earth?", ["Pacific", "Pacific Ocean"],
     "The Pacific Ocean is the largest ocean on Earth.", "largest ocean"),
    ("What is the smallest ocean on Earth?", ["Arctic", "Arctic Ocean"],
     "The Arctic Ocean is the smallest of the world's oceans.", "smallest ocean"),
    ("What is the highest mountain in the world?",
     ["Mount Everest", "Everest", "Sagarmatha", "Chomolungma", "Qomolangma"],
     "Mount Everest is the highest mountain in the world above sea level.", "highest mountain"),
    ("What is the largest hot desert in the world?", ["Sahara", "Sahara Desert"],
     "The Sahara is the largest hot desert in the world.", "largest hot desert"),
    ("What is the largest country in the world by area?", ["Russia", "Russian Federation"],
     "Russia is the largest country in the world by area.", "largest country"),
    ("What is the smallest country in the world by area?",
     ["Vatican City", "Vatican", "Holy See", "Vatican City State"],
     "Vatican City is the smallest country in the world by area.", "smallest country"),
    ("What is the longest river in South America?", ["Amazon", "Amazon River", "River Amazon"],
     "The Amazon is the longest river in South America.", "longest river in South America"),
    ("What is the largest continent by area?", ["Asia"],
     "Asia is the largest continent by area.", "largest continent"),
    ("What is the largest island in the world that is not a continent?", ["Greenland"],
     "Greenland is the largest island in the world that is not a continent.", "largest island"),
    ("What is the deepest ocean trench on Earth?", ["Mariana Trench", "Marianas Trench",
                                                     "Mariana"],
     "The Mariana Trench in the Pacific Ocean is the deepest ocean trench on Earth.",
     "deepest ocean trench"),
    ("What is the largest lake in Africa?", ["Lake Victoria", "Victoria", "Victoria Nyanza"],
     "Lake Victoria is the largest lake in Africa.", "largest lake in Africa"),
    ("What is the longest river in Europe?", ["Volga", "Volga River", "River Volga"],
     "The Volga is the longest river in Europe.", "longest river in Europe"),
    ("What is the highest mountain in Africa?", ["Mount Kilimanjaro", "Kilimanjaro", "Kibo"],
     "Mount Kilimanjaro is the highest mountain in Africa.", "highest mountain in Africa"),
    ("What is the highest mountain in North America?", ["Denali", "Mount McKinley", "McKinley"],
     "Denali, formerly Mount McKinley, is the highest mountain in North America.",
     "highest mountain in North America"),
    ("What is the highest mountain in South America?", ["Aconcagua", "Cerro Aconcagua",
                                                         "Mount Aconcagua"],
     "Aconcagua is the highest mountain in South America.", "highest mountain in South America"),
    ("What is the highest mountain in Antarctica?", ["Vinson Massif", "Mount Vinson", "Vinson"],
     "Vinson Massif is the highest mountain in Antarctica.", "highest mountain in Antarctica"),
    ("What is the highest mountain in Japan?", ["Mount Fuji", "Fuji", "Fujisan", "Fuji-san",
                                                 "Fujiyama"],
     "Mount Fuji is the highest mountain in Japan.", "highest mountain in Japan"),
    ("What is the longest river in China?", ["Yangtze", "Yangtze River", "Chang Jiang",
                                              "Changjiang", "Yangtse"],
     "The Yangtze is the longest river in China and in Asia.", "longest river in China"),
    ("What is the longest river in Australia?", ["Murray", "Murray River", "River Murray"],
     "The Murray is the longest river in Australia.", "longest river in Australia"),
    ("What is the longest river in the United Kingdom?", ["Severn", "River Severn"],
     "The River Severn is the longest river in the United Kingdom.",
     "longest river in the United Kingdom"),
    ("What is the longest river in France?", ["Loire", "Loire River", "River Loire"],
     "The Loire is the longest river in France.", "longest river in France"),
    ("What is the largest lake in North America by area?", ["Lake Superior", "Superior"],
     "Lake Superior is the largest lake in North America by area.",
     "largest lake in North America"),
    ("What is the deepest lake in the world?", ["Lake Baikal", "Baikal"],
     "Lake Baikal in Siberia is the deepest lake in the world.", "deepest lake"),
    ("What is the largest country in South America by area?", ["Brazil"],
     "Brazil is the largest country in South America by area.",
     "largest country in South America"),
    ("What is the largest country in Africa by area?", ["Algeria"],
     "Algeria is the largest country in Africa by area.", "largest country in Africa"),
    ("What is the most populous country in Africa?", ["Nigeria"],
     "Nigeria is the most populous country in Africa.", "most populous country in Africa"),
    ("What is the largest US state by area?", ["Alaska"],
     "Alaska is the largest US state by area.", "largest US state"),
    ("What is the most populous US state?", ["California"],
     "California is the most populous US state.", "most populous US state"),
    ("Which ocean lies between Africa and Australia?", ["Indian Ocean", "Indian"],
     "The Indian Ocean lies between Africa and Australia.", "Indian Ocean"),
    ("Which ocean separates Europe from North America?", ["Atlantic", "Atlantic Ocean"],
     "The Atlantic Ocean separates Europe from North America.", "Atlantic"),
    ("What is the lowest point on land on Earth, on the shore of a salt lake?", ["Dead Sea"],
     "The shore of the Dead Sea is the lowest point on land on Earth.", "lowest point on land"),
    ("What is the tallest waterfall in the world?", ["Angel Falls", "Salto Ángel",
                                                      "Salto Angel", "Kerepakupai Merú"],
     "Angel Falls in Venezuela is the tallest waterfall in the world.", "tallest waterfall"),
    ("Which river flows through Florence?", ["Arno", "Arno River", "River Arno"],
     "The Arno flows through Florence.", "Florence"),
    ("Which river flows through Hamburg?", ["Elbe", "Elbe River", "River Elbe"],
     "The Elbe flows through Hamburg.", "Hamburg"),
    ("Which river flows through Cologne?", ["Rhine", "Rhine River", "River Rhine", "Rhein"],
     "The Rhine flows through Cologne.", "Cologne"),
    ("Which river flows through New Orleans?", ["Mississippi", "Mississippi River"],
     "The Mississippi River flows through New Orleans.", "New Orleans"),
    ("Which river flows through Varanasi?", ["Ganges", "Ganga", "River Ganges"],
     "The Ganges flows through Varanasi.", "Varanasi"),
    ("Which river flows through Saint Petersburg in Russia?", ["Neva", "Neva River"],
     "The Neva flows through Saint Petersburg.", "Saint Petersburg"),
    ("Which river flows through Glasgow?", ["Clyde", "River Clyde"],
     "The River Clyde flows through Glasgow.", "Glasgow"),
    ("What is the only country that shares a land border with Portugal?", ["Spain"],
     "Spain is the only country that shares a land border with Portugal.", "Portugal border"),
    ("Which country lies directly north of the United States?", ["Canada"],
     "Canada lies directly north of the United States.", "north of the United States"),
    ("Which country lies directly south of the United States?", ["Mexico"],
     "Mexico lies directly south of the United States.", "south of the United States"),
    ("Which country completely surrounds Lesotho?", ["South Africa"],
     "Lesotho is completely surrounded by South Africa.", "Lesotho"),
    ("Which country completely surrounds San Marino?", ["Italy"],
     "San Marino is completely surrounded by Italy.", "San Marino"),
    ("Which strait separates Europe from Africa at the western end of the Mediterranean?",
     ["Strait of Gibraltar", "Gibraltar", "Straits of Gibraltar"],
     "The Strait of Gibraltar separates Europe from Africa at the western end of the "
     "Mediterranean.", "Strait of Gibraltar"),
    ("Which canal connects the Mediterranean Sea with the Red Sea?", ["Suez Canal", "Suez"],
     "The Suez Canal connects the Mediterranean Sea with the Red Sea.", "Suez"),
    ("Which canal connects the Atlantic and Pacific Oceans through Central America?",
     ["Panama Canal", "Panama"],
     "The Panama Canal connects the Atlantic and Pacific Oceans through Central America.",
     "Panama Canal"),
    ("In which mountain range is Mount Everest?", ["Himalayas", "Himalaya",
                                                    "Himalayan mountains"],
     "Mount Everest is in the Himalayas.", "Himalayas"),
    ("Which mountain range is traditionally taken as the boundary between Europe and Asia?",
     ["Ural Mountains", "Urals", "Ural"],
     "The Ural Mountains are traditionally taken as the boundary between Europe and Asia.",
     "Ural"),
    ("Which mountain range runs along the western side of South America?", ["Andes",
                                                                             "Andes Mountains"],
     "The Andes run along the western side of South America.", "Andes"),
    ("Which mountain range forms the border between France and Spain?", ["Pyrenees",
                                                                         "Pyrénées"],
     "The Pyrenees form the border between France and Spain.", "Pyrenees"),
    ("Which river carved the Grand Canyon?", ["Colorado", "Colorado River"],
     "The Colorado River carved the Grand Canyon.", "Grand Canyon"),
    ("On which river is the Three Gorges Dam?", ["Yangtze", "Yangtze River", "Chang Jiang",
                                                  "Yangtse"],
     "The Three Gorges Dam is on the Yangtze River.", "Three Gorges Dam"),
    ("Which desert covers much of Botswana?", ["Kalahari", "Kalahari Desert"],
     "The Kalahari Desert covers much of Botswana.", "Kalahari"),
    ("Which desert in northern Chile is one of the driest places on Earth?",
     ["Atacama", "Atacama Desert"],
     "The Atacama Desert in northern Chile is one of the driest places on Earth.", "Atacama"),
    ("Which sea lies between Europe and Africa?", ["Mediterranean", "Mediterranean Sea"],
     "The Mediterranean Sea lies between Europe and Africa.", "Mediterranean"),
    ("What is the largest country in North America by area?", ["Canada"],
     "Canada is the largest country in North America by area.",
     "largest country in North America"),
    ("Which line of latitude divides the Earth into northern and southern hemispheres?",
     ["Equator", "the equator"],
     "The Equator divides the Earth into the northern and southern hemispheres.", "Equator"),
]


# Trim to about 160 questions, keeping every kind of question.
CONTINENT = CONTINENT[::2]
CURRENCY = [c for c in CURRENCY if c[0] not in ("Denmark", "Ireland", "Italy", "Kenya", "Ghana")]
LANGUAGE = LANGUAGE[:22]
LANDMARK = [lm for lm in LANDMARK if lm[0] not in ("Mount Fuji", "Mount Kilimanjaro",
                                                   "the Golden Gate Bridge", "Petra",
                                                   "the Alhambra")]
ISLAND = ISLAND[:10]
OTHER = [o for o in OTHER if o[3] not in ("Three Gorges Dam", "Mediterranean", "Equator",
                                         "largest country in North America", "Glasgow",
                                         "Varanasi")]


def _questions():
    out = []
    for c, ans in CONTINENT:
        name = c[0].upper() + c[1:]
        out.append(q(f"On which continent is {c}?", ans, f"{name} is a country in {ans[0]}.",
                     c.removeprefix("the ")))
    for c, ans in CURRENCY:
        out.append(q(f"What is the currency of {c}?", ans,
                     f"The currency of {c} is the {ans[0]}.", c.removeprefix("the ")))
    for c, ans in LANGUAGE:
        out.append(q(f"What is the main language spoken in {c}?", ans,
                     f"The main language spoken in {c} is {ans[0]}.", c.removeprefix("the ")))
    for lm, ans in LANDMARK:
        name = lm[0].upper() + lm[1:]
        out.append(q(f"In which country is {lm}?", ans, f"{name} is in {ans[0]}.",
                     lm.removeprefix("the ")))
    for isl, ans in ISLAND:
        out.append(q(f"Which country does {isl} belong to?", ans,
                     f"{isl} belongs to {ans[0]}.", isl))
    for question, ans, fact, subject in OTHER:
        out.append(q(question, ans, fact, subject))
    return out


QUESTIONS = _questions()

# Distractors: countries that no question is about, plus physical features no question asks.
OTHER_CONTINENT = [
    ("Slovakia", "Europe"), ("Slovenia", "Europe"), ("Croatia", "Europe"), ("Serbia", "Europe"),
    ("Bulgaria", "Europe"), ("Albania", "Europe"), ("Latvia", "Europe"), ("Lithuania", "Europe"),
    ("Estonia", "Europe"), ("Belarus", "Europe"), ("Moldova", "Europe"),
    ("Luxembourg", "Europe"), ("Malta", "Europe"), ("Montenegro", "Europe"),
    ("North Macedonia", "Europe"), ("Bosnia and Herzegovina", "Europe"),
    ("Bhutan", "Asia"), ("Myanmar", "Asia"), ("Syria", "Asia"), ("Lebanon", "Asia"),
    ("Oman", "Asia"), ("Yemen", "Asia"), ("Qatar", "Asia"), ("Kuwait", "Asia"),
    ("Bahrain", "Asia"), ("Kyrgyzstan", "Asia"), ("Tajikistan", "Asia"),
    ("Uzbekistan", "Asia"), ("Turkmenistan", "Asia"), ("Brunei", "Asia"), ("North Korea", "Asia"),
    ("Chad", "Africa"), ("Niger", "Africa"), ("Benin", "Africa"), ("Togo", "Africa"),
    ("Gabon", "Africa"), ("Rwanda", "Africa"), ("Burundi", "Africa"), ("Malawi", "Africa"),
    ("Mozambique", "Africa"), ("Liberia", "Africa"), ("Sierra Leone", "Africa"),
    ("Eritrea", "Africa"), ("Djibouti", "Africa"), ("Tunisia", "Africa"), ("Libya", "Africa"),
    ("Mauritania", "Africa"), ("Burkina Faso", "Africa"), ("Eswatini", "Africa"),
    ("Guyana", "South America"), ("Suriname", "South America"),
    ("Guatemala", "North America"), ("Honduras", "North America"),
    ("Nicaragua", "North America"), ("Costa Rica", "North America"), ("Cuba", "North America"),
    ("Jamaica", "North America"), ("El Salvador", "North America"), ("Belize", "North America"),
]
OTHER_CURRENCY = [
    ("Bulgaria", "lev"), ("Serbia", "dinar"), ("Albania", "lek"), ("Moldova", "leu"),
    ("Georgia", "lari"), ("Armenia", "dram"),
    ("Azerbaijan", "manat"), ("Kazakhstan", "tenge"), ("Tajikistan", "somoni"),
    ("Myanmar", "kyat"), ("Bhutan", "ngultrum"), ("Kuwait", "Kuwaiti dinar"),
    ("Bahrain", "Bahraini dinar"), ("Oman", "Omani rial"),
    ("Libya", "Libyan dinar"), ("Tunisia", "Tunisian dinar"), ("Eritrea", "nakfa"),
    ("Malawi", "kwacha"), ("Mozambique", "metical"),
    ("Sierra Leone", "leone"), ("Guatemala", "quetzal"), ("Honduras", "lempira"),
    ("Nicaragua", "córdoba"), ("Costa Rica", "colón"),
    ("North Macedonia", "denar"), ("Bosnia and Herzegovina", "convertible mark"),
    ("Gambia", "dalasi"), ("Haiti", "gourde"),
]
OTHER_LANGUAGE = [
    ("Bulgaria", "Bulgarian"), ("Serbia", "Serbian"), ("Croatia", "Croatian"),
    ("Slovakia", "Slovak"), ("Slovenia", "Slovene"), ("Albania", "Albanian"),
    ("Latvia", "Latvian"), ("Lithuania", "Lithuanian"), ("Estonia", "Estonian"),
    ("Armenia", "Armenian"), ("Georgia", "Georgian"), ("Myanmar", "Burmese"),
    ("Bhutan", "Dzongkha"), ("Uzbekistan", "Uzbek"), ("Turkmenistan", "Turkmen"),
    ("Kazakhstan", "Kazakh"), ("Azerbaijan", "Azerbaijani"),
]
OTHER_FEATURES = [
    "The Mekong rises on the Tibetan Plateau and flows into the South China Sea.",
    "The Danube flows into the Black Sea through a large delta.",
    "The Zambezi is the fourth-longest river in Africa.",
    "The Congo River is the deepest river in the world.",
    "The Orinoco is one of the longest rivers in South America.",
    "The Mackenzie River is the longest river system in Canada.",
    "The Dnieper flows into the Black Sea.",
    "The Irrawaddy is the principal river of Myanmar.",
    "The Indus flows into the Arabian Sea.",
    "The Niger River flows in a great arc through West Africa.",
    "Mont Blanc is the highest mountain in the Alps.",
    "Mount Elbrus is the highest peak of the Caucasus Mountains.",
    "K2 is the second-highest mountain in the world.",
    "Kangchenjunga is the third-highest mountain in the world.",
    "Mount Kosciuszko is the highest mountain on the Australian mainland.",
    "Ben Nevis is the highest mountain in the British Isles.",
    "Mount Olympus is the highest mountain in Greece.",
    "Mount Etna is an active volcano on the east coast of an Italian island.",
    "Lake Titicaca lies on the border between two Andean countries.",
    "Lake Tanganyika is the second-deepest lake in the world.",
    "Lake Malawi is one of the African Great Lakes.",
    "The Caspian Sea is the largest enclosed body of water on Earth.",
    "Lake Ladoga is the largest lake entirely in Europe.",
    "Lake Geneva lies on the north side of the Alps.",
    "The Gobi Desert is a cold desert in East Asia.",
    "The Namib Desert runs along the Atlantic coast of southern Africa.",
    "The Mojave Desert lies in the south-western United States.",
    "The Great Barrier Reef is the largest coral reef system in the world.",
    "The Bering Strait separates Asia from North America.",
    "The Bosporus is a narrow strait that connects the Black Sea to the Sea of Marmara.",
    "The Strait of Hormuz connects the Persian Gulf with the Gulf of Oman.",
    "The Kiel Canal connects the North Sea with the Baltic Sea.",
    "The Appalachian Mountains run through the eastern United States.",
    "The Rocky Mountains stretch from western Canada to New Mexico.",
    "The Atlas Mountains run across north-western Africa.",
    "The Carpathian Mountains form an arc across central and eastern Europe.",
    "Iguazu Falls lie on the border between two South American countries.",
    "Niagara Falls lie on the border between two North American countries.",
    "The Sea of Galilee is a freshwater lake in the Jordan Rift Valley.",
    "Borneo is the third-largest island in the world.",
    "New Guinea is the second-largest island in the world.",
    "Baffin Island is the largest island in Canada.",
    "Honshu is the largest of the main islands of its country.",
    "Myanmar was formerly known as Burma.",
]

DISTRACTORS = (
    [f"{c} is a country in {cont}." for c, cont in OTHER_CONTINENT]
    + [f"The currency of {c} is the {cur}." for c, cur in OTHER_CURRENCY]
    + [f"The main language spoken in {c} is {lang}." for c, lang in OTHER_LANGUAGE]
    + OTHER_FEATURES
)

# Distractors that name a question's subject but state a different, true fact about a different
# entity (checked by hand; passages.py lets only these through its subject check).
REVIEWED_RELATED = {
    "The Mekong rises on the Tibetan Plateau and flows into the South China Sea.",
    "The Zambezi is the fourth-longest river in Africa.",
    "The Mackenzie River is the longest river system in Canada.",
    "Mont Blanc is the highest mountain in the Alps.",
    "K2 is the second-highest mountain in the world.",
    "Kangchenjunga is the third-highest mountain in the world.",
    "Mount Kosciuszko is the highest mountain on the Australian mainland.",
    "Ben Nevis is the highest mountain in the British Isles.",
    "Mount Olympus is the highest mountain in Greece.",
    "Lake Tanganyika is the second-deepest lake in the world.",
    "The Namib Desert runs along the Atlantic coast of southern Africa.",
    "The Mojave Desert lies in the south-western United States.",
    "The Appalachian Mountains run through the eastern United States.",
    "The Rocky Mountains stretch from western Canada to New Mexico.",
    "Borneo is the third-largest island in the world.",
    "New Guinea is the second-largest island in the world.",
    "Baffin Island is the largest island in Canada.",
}
