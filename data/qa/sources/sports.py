"""Sports: which sport a term, a piece of kit, a famous athlete or a trophy belongs to, where a
sport comes from, and which city hosted some Olympic Games (no country capitals among them).

A fresh held-out domain (issue 14, third round), written after `mythology` and `food`, because
SmolLM2 answers only 16% of `mythology` correctly. Written and committed before any scorer was
run on it. Counts (players in a team, holes in golf) are in `numbers` and stay out of here.
"""

from .common import as_written, q

FOOTBALL = ["football", "soccer", "association football", "footballer", "footballing"]
AM_FOOTBALL = ["American football", "football", "gridiron"]
BASKETBALL = ["basketball"]
TENNIS = ["tennis", "lawn tennis"]
GOLF = ["golf"]
CRICKET = ["cricket"]
BASEBALL = ["baseball"]
RUGBY = ["rugby", "rugby union", "rugby league", "rugby football"]
ICE_HOCKEY = ["ice hockey", "hockey"]
BOXING = ["boxing"]
CHESS = ["chess"]
CYCLING = ["cycling", "road cycling", "bicycle racing", "bike racing"]
MOTOR = ["Formula One", "Formula 1", "F1", "motor racing", "car racing", "auto racing", "motorsport"]
ATHLETICS = ["athletics", "track and field", "sprinting", "sprint", "running", "track"]
SWIMMING = ["swimming"]
GYMNASTICS = ["gymnastics", "artistic gymnastics"]
HORSE_RACING = ["horse racing", "horseracing"]
SAILING = ["sailing", "yachting", "yacht racing"]

# (the term as asked, aliases of the sport)
TERMS = [
    ("a shuttlecock", ["badminton"]), ("a puck", ICE_HOCKEY), ("a touchdown", AM_FOOTBALL), ("a home run", BASEBALL),
    ("a slam dunk", BASKETBALL), ("a wicket", CRICKET), ("a checkmate", CHESS), ("a scrum", RUGBY),
    ("a hole in one", GOLF), ("a double fault", TENNIS), ("a knockout punch", BOXING), ("a bullseye", ["darts"]),
    ("a strike and a spare", ["bowling", "ten-pin bowling", "tenpin bowling", "ten pin bowling"]),
    ("an epee", ["fencing"]), ("a yellow jersey and a peloton", CYCLING), ("a pit stop and pole position", MOTOR),
    ("a slalom", ["skiing", "alpine skiing", "canoe slalom", "canoeing", "kayaking"]),
    ("a stone swept with brooms across ice", ["curling"]), ("the butterfly stroke", SWIMMING),
    ("a pommel horse", GYMNASTICS), ("a cue and a maximum break of 147", ["snooker"]),
    ("an offside rule and a penalty kick", FOOTBALL), ("a dohyo ring", ["sumo", "sumo wrestling"]),
    ("an ippon", ["judo", "karate"]), ("a stick with a net pocket", ["lacrosse"]),
    ("a mallet swung from horseback", ["polo"]), ("an oar and a cox", ["rowing"]), ("a spike and a dig", ["volleyball"]),
    ("a maiden over", CRICKET), ("a deuce and an advantage", TENNIS), ("a bogey and an eagle", GOLF),
    ("a free throw and a rebound", BASKETBALL), ("a pitcher's mound", BASEBALL), ("a lineout and a try", RUGBY),
    ("a snatch and a clean and jerk", ["weightlifting", "weight lifting", "Olympic weightlifting"]),
    ("a triple axel", ["figure skating", "ice skating", "skating"]), ("a furlong and a jockey", HORSE_RACING),
    ("a javelin and a discus", ATHLETICS + ["field events"]), ("a penalty corner with a curved stick on grass",
                                                              ["field hockey", "hockey"]),
    ("a bunker and a putter", GOLF), ("a yorker and a googly", CRICKET), ("a stalemate", CHESS),
    ("a bunt and a strikeout", BASEBALL), ("a paddle and a small celluloid ball", ["table tennis", "ping pong", "ping-pong"]),
    ("a black belt and a kata", ["karate", "judo", "taekwondo", "martial arts"]),
]

# (athlete, aliases of the sport)
ATHLETES = [
    ("Michael Jordan", BASKETBALL), ("LeBron James", BASKETBALL), ("Serena Williams", TENNIS),
    ("Roger Federer", TENNIS), ("Rafael Nadal", TENNIS), ("Tiger Woods", GOLF), ("Jack Nicklaus", GOLF),
    ("Usain Bolt", ATHLETICS), ("Michael Phelps", SWIMMING), ("Lionel Messi", FOOTBALL),
    ("Cristiano Ronaldo", FOOTBALL), ("Pele", FOOTBALL), ("Diego Maradona", FOOTBALL), ("Muhammad Ali", BOXING),
    ("Mike Tyson", BOXING), ("Babe Ruth", BASEBALL), ("Wayne Gretzky", ICE_HOCKEY), ("Sachin Tendulkar", CRICKET),
    ("Don Bradman", CRICKET), ("Lewis Hamilton", MOTOR), ("Michael Schumacher", MOTOR), ("Ayrton Senna", MOTOR),
    ("Simone Biles", GYMNASTICS), ("Nadia Comaneci", GYMNASTICS), ("Tom Brady", AM_FOOTBALL),
    ("Garry Kasparov", CHESS), ("Magnus Carlsen", CHESS), ("Eddy Merckx", CYCLING), ("Jonah Lomu", RUGBY),
    ("Shaquille O'Neal", BASKETBALL), ("Martina Navratilova", TENNIS), ("Bjorn Borg", TENNIS), ("Steffi Graf", TENNIS),
    ("Jesse Owens", ATHLETICS), ("Carl Lewis", ATHLETICS), ("Mark Spitz", SWIMMING), ("Ian Thorpe", SWIMMING),
    ("Manny Pacquiao", BOXING), ("Floyd Mayweather", BOXING), ("Ronnie O'Sullivan", ["snooker"]),
    ("Tony Hawk", ["skateboarding", "skateboard"]), ("Shaun White", ["snowboarding", "snowboard", "skateboarding"]),
    ("Joe DiMaggio", BASEBALL), ("Zinedine Zidane", FOOTBALL), ("Johan Cruyff", FOOTBALL), ("David Beckham", FOOTBALL),
    ("Magic Johnson", BASKETBALL), ("Arnold Palmer", GOLF), ("Eliud Kipchoge", ["marathon", "running", "athletics",
                                                                            "long-distance running", "distance running"]),
    ("Bradley Wiggins", CYCLING), ("Kobe Bryant", BASKETBALL), ("Novak Djokovic", TENNIS),
]

# (the event or trophy as asked, aliases of the sport)
EVENTS = [
    ("the Stanley Cup", ICE_HOCKEY), ("the Wimbledon Championships", TENNIS), ("the Tour de France", CYCLING),
    ("the Masters at Augusta", GOLF), ("the Ryder Cup", GOLF), ("the Davis Cup", TENNIS),
    ("the Super Bowl", AM_FOOTBALL), ("the World Series", BASEBALL), ("the Ashes", CRICKET),
    ("the America's Cup", SAILING), ("the Grand National", HORSE_RACING + ["steeplechase"]),
    ("the Kentucky Derby", HORSE_RACING), ("the Six Nations Championship", RUGBY), ("the Monaco Grand Prix", MOTOR),
    ("the NBA Finals", BASKETBALL), ("the French Open at Roland Garros", TENNIS), ("the FIFA World Cup", FOOTBALL),
    ("the Indianapolis 500", ["motor racing", "car racing", "auto racing", "IndyCar", "IndyCar racing", "motorsport"]),
    ("the Giro d'Italia", CYCLING), ("the Iditarod", ["sled dog racing", "dog sled racing", "dog sledding",
                                                     "sled dog", "mushing"]),
    ("the Ballon d'Or", FOOTBALL), ("the Heisman Trophy", AM_FOOTBALL), ("the Calcutta Cup", RUGBY),
    ("the Oxford and Cambridge Boat Race", ["rowing"]), ("the 24 Hours of Le Mans", ["motor racing", "endurance racing",
                                                                                   "car racing", "auto racing",
                                                                                   "sports car racing", "motorsport"]),
    ("the US Open at Flushing Meadows", TENNIS), ("the Open Championship at St Andrews", GOLF),
    ("the Cricket World Cup", CRICKET),
]

# (sport as asked, aliases of the country it comes from)
ORIGIN = [
    ("judo", ["Japan", "Japanese"]), ("sumo wrestling", ["Japan", "Japanese"]),
    ("taekwondo", ["South Korea", "Korea", "Korean"]), ("golf", ["Scotland", "Scottish"]),
    ("ice hockey", ["Canada", "Canadian"]), ("hurling", ["Ireland", "Irish"]), ("capoeira", ["Brazil", "Brazilian"]),
    ("kabaddi", ["India", "Indian"]), ("Australian rules football", ["Australia", "Australian"]),
    ("curling", ["Scotland", "Scottish"]), ("baseball", ["United States", "USA", "America", "American"]),
    ("sepak takraw", ["Malaysia", "Thailand", "Southeast Asia"]), ("Gaelic football", ["Ireland", "Irish"]),
]

# (year, season, aliases of the host city): games held outside any country's capital
HOSTS = [
    (1992, "Summer", ["Barcelona"]), (1996, "Summer", ["Atlanta"]), (2000, "Summer", ["Sydney"]),
    (1984, "Summer", ["Los Angeles"]), (2016, "Summer", ["Rio de Janeiro", "Rio"]),
    (1972, "Summer", ["Munich", "Munchen"]), (1976, "Summer", ["Montreal"]), (2002, "Winter", ["Salt Lake City"]),
    (2010, "Winter", ["Vancouver", "Whistler"]), (2014, "Winter", ["Sochi"]), (1994, "Winter", ["Lillehammer"]),
    (2006, "Winter", ["Turin", "Torino"]), (1998, "Winter", ["Nagano"]), (1988, "Winter", ["Calgary"]),
]

# (question, aliases, fact, subject)
OTHER = [
    ("Who invented basketball in 1891?", ["James Naismith", "Naismith"], "James Naismith invented basketball in 1891.",
     "invented basketball"),
    ("Which sport is known as the beautiful game?", FOOTBALL, "Football is known as the beautiful game.",
     "beautiful game"),
    ("Which sport is played at the Augusta National club each April?", GOLF,
     "Golf is played at the Augusta National club each April.", "Augusta National"),
    ("In which sport do players compete for the green jacket?", GOLF, "In golf, players compete for the green jacket.",
     "green jacket"),
    ("Which racket sport is played against the walls of a closed court with a small rubber ball?", ["squash"],
     "Squash is played against the walls of a closed court with a small rubber ball.", "closed court"),
    ("Which sport combines cross-country skiing and rifle shooting?", ["biathlon"],
     "The biathlon combines cross-country skiing and rifle shooting.", "rifle shooting"),
    ("Which event combines swimming, cycling and running?", ["triathlon"],
     "The triathlon combines swimming, cycling and running.", "swimming, cycling and running"),
    ("What is the long-distance running race of about 42 kilometres called?", ["marathon"],
     "The long-distance running race of about 42 kilometres is called the marathon.", "42 kilometres"),
    ("Which Japanese martial art's name means the gentle way?", ["judo"],
     "Judo is the Japanese martial art whose name means the gentle way.", "gentle way"),
    ("Which sport is played on horseback by teams hitting a ball with long mallets?", ["polo"],
     "Polo is played on horseback by teams hitting a ball with long mallets.", "on horseback by teams"),
]


def _questions() -> list[dict]:
    out = []
    for term, names in TERMS:
        out.append(q(f"Which sport has {term}?", names, f"The sport of {names[0]} has {term}.", f"has {term}"))
    for athlete, names in ATHLETES:
        out.append(q(f"Which sport is {athlete} famous for?", names, f"{athlete} is famous for {names[0]}.",
                     f"{athlete}"))
    for event, names in EVENTS:
        out.append(q(f"In which sport is {event} contested?", names, f"{event[0].upper()}{event[1:]} is contested "
                     f"in {names[0]}.", f"{event} contested"))
    for sport, names in ORIGIN:
        out.append(q(f"In which country did {sport} originate?", names, f"{sport[0].upper()}{sport[1:]} originated in "
                     f"{names[0]}.", f"did {sport} originate"))
    for year, season, names in HOSTS:
        out.append(q(f"Which city hosted the {year} {season} Olympics?", names,
                     f"{names[0]} hosted the {year} {season} Olympics.", f"{year} {season} Olympics"))
    for question, names, fact, subject in OTHER:
        out.append(q(question, as_written(names, fact), fact, subject))
    return out


QUESTIONS = _questions()

# (athlete, sport) and (event, sport) that no question asks about.
UNASKED = [
    ("Billie Jean King", "tennis"), ("Andre Agassi", "tennis"), ("Pete Sampras", "tennis"), ("Venus Williams", "tennis"),
    ("Andy Murray", "tennis"), ("Chris Evert", "tennis"), ("Rod Laver", "tennis"), ("Naomi Osaka", "tennis"),
    ("Gary Player", "golf"), ("Seve Ballesteros", "golf"), ("Annika Sorenstam", "golf"), ("Rory McIlroy", "golf"),
    ("Ben Hogan", "golf"), ("Phil Mickelson", "golf"), ("Larry Bird", "basketball"), ("Kareem Abdul-Jabbar", "basketball"),
    ("Stephen Curry", "basketball"), ("Dirk Nowitzki", "basketball"), ("Bill Russell", "basketball"),
    ("Tim Duncan", "basketball"), ("Hank Aaron", "baseball"), ("Willie Mays", "baseball"), ("Jackie Robinson", "baseball"),
    ("Ichiro Suzuki", "baseball"), ("Mickey Mantle", "baseball"), ("Lou Gehrig", "baseball"),
    ("Bobby Orr", "ice hockey"), ("Mario Lemieux", "ice hockey"), ("Gordie Howe", "ice hockey"),
    ("Sidney Crosby", "ice hockey"), ("Alexander Ovechkin", "ice hockey"), ("Johnny Unitas", "American football"),
    ("Joe Montana", "American football"), ("Jerry Rice", "American football"), ("Peyton Manning", "American football"),
    ("Walter Payton", "American football"), ("Franz Beckenbauer", "football"), ("Bobby Charlton", "football"),
    ("Eusebio", "football"), ("Ferenc Puskas", "football"), ("Lev Yashin", "football"), ("Thierry Henry", "football"),
    ("Ronaldinho", "football"), ("Mia Hamm", "football"), ("Marta Vieira da Silva", "football"),
    ("Brian Lara", "cricket"), ("Shane Warne", "cricket"), ("Muttiah Muralitharan", "cricket"), ("Viv Richards", "cricket"),
    ("Imran Khan", "cricket"), ("Virat Kohli", "cricket"), ("Richie McCaw", "rugby"), ("Jonny Wilkinson", "rugby"),
    ("Gareth Edwards", "rugby"), ("Dan Carter", "rugby"), ("Brian O'Driscoll", "rugby"), ("Joe Louis", "boxing"),
    ("Rocky Marciano", "boxing"), ("Sugar Ray Leonard", "boxing"), ("Lennox Lewis", "boxing"), ("Joe Frazier", "boxing"),
    ("George Foreman", "boxing"), ("Juan Manuel Fangio", "motor racing"), ("Niki Lauda", "motor racing"),
    ("Alain Prost", "motor racing"), ("Jackie Stewart", "motor racing"), ("Sebastian Vettel", "motor racing"),
    ("Fernando Alonso", "motor racing"), ("Max Verstappen", "motor racing"), ("Jacques Anquetil", "cycling"),
    ("Bernard Hinault", "cycling"), ("Miguel Indurain", "cycling"), ("Chris Froome", "cycling"), ("Fausto Coppi", "cycling"),
    ("Olga Korbut", "gymnastics"), ("Larisa Latynina", "gymnastics"), ("Kohei Uchimura", "gymnastics"),
    ("Sergey Bubka", "pole vault"), ("Paavo Nurmi", "distance running"), ("Haile Gebrselassie", "distance running"),
    ("Florence Griffith-Joyner", "sprinting"), ("Michael Johnson", "sprinting"), ("Edwin Moses", "hurdles"),
    ("Bob Beamon", "the long jump"), ("Jackie Joyner-Kersee", "the heptathlon"), ("Daley Thompson", "the decathlon"),
    ("Dawn Fraser", "swimming"), ("Katie Ledecky", "swimming"), ("Johnny Weissmuller", "swimming"),
    ("Anatoly Karpov", "chess"), ("Bobby Fischer", "chess"), ("Judit Polgar", "chess"), ("Mikhail Tal", "chess"),
    ("Steve Davis", "snooker"), ("Stephen Hendry", "snooker"), ("Phil Taylor", "darts"), ("Jayne Torvill", "ice dancing"),
    ("Katarina Witt", "figure skating"), ("Ingemar Stenmark", "alpine skiing"), ("Lindsey Vonn", "alpine skiing"),
    ("Hermann Maier", "alpine skiing"), ("Ole Einar Bjorndalen", "biathlon"), ("Steve Redgrave", "rowing"),
    ("Ben Ainslie", "sailing"), ("Lester Piggott", "horse racing"), ("Frankie Dettori", "horse racing"),
    ("Valentino Rossi", "motorcycle racing"), ("Kelly Slater", "surfing"), ("Carl Fogarty", "motorcycle racing"),
]
DISTRACTORS = [f"{who} is famous for {sport}." for who, sport in UNASKED] + [
    f"{who} became a champion in {sport}." for who, sport in UNASKED[::4]] + [
    "The Vuelta a Espana is a three-week cycling race.", "The Melbourne Cup is a horse race.",
    "The Belmont Stakes is a horse race.", "The Fed Cup was a women's team tennis competition.",
    "The Solheim Cup is a women's golf competition.", "The Gold Cup at Cheltenham is a steeplechase.",
    "The Thomas Cup is a men's badminton team competition.", "The Walker Cup is an amateur golf competition.",
    "The Sheffield Shield is a cricket competition.", "The Bledisloe Cup is contested in rugby.",
    "The Grey Cup is the championship of Canadian football.", "The Copa America is a football competition.",
    "The Dakar Rally is an off-road endurance race.", "The Isle of Man TT is a motorcycle race.",
    "Netball was developed from early basketball.", "Bandy is played on ice with a ball and curved sticks.",
    "Pelota is played by striking a ball against a wall.", "Hurdling is a track event.",
    "Korfball is a mixed team sport played with a ball and a basket.", "Petanque is played with metal balls.",
]

# Distractors checked by hand to state a different true fact than the question on related words.
REVIEWED_RELATED: set[str] = set()
