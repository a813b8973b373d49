"""The synthetic suite's lexicon (``data/synthetic.py``): per-topic nouns, verbs and adjectives, sentiment words
with their antonyms, synonyms, adverbs, places, determiners, and verbs' base forms."""

from __future__ import annotations

TOPICS: dict[str, dict[str, list[str]]] = {
    "sports": {"n": ["player", "coach", "team", "ball", "goal", "match", "referee", "stadium", "runner", "trophy"],
               "v": ["kicks", "throws", "wins", "loses", "trains", "coaches", "passes", "catches"],
               "a": ["fast", "strong", "young", "tired", "skilled", "tall"]},
    "cooking": {"n": ["chef", "soup", "bread", "knife", "oven", "recipe", "kitchen", "sauce", "cook", "cake"],
                "v": ["bakes", "cuts", "stirs", "tastes", "serves", "cooks", "mixes", "burns"],
                "a": ["hot", "fresh", "sweet", "salty", "warm", "spicy"]},
    "science": {"n": ["scientist", "atom", "theory", "lab", "experiment", "cell", "student", "paper", "star", "engine"],
                "v": ["studies", "measures", "tests", "explains", "observes", "builds", "publishes", "proves"],
                "a": ["new", "complex", "precise", "early", "careful", "bright"]},
    "music": {"n": ["singer", "song", "band", "guitar", "drum", "concert", "pianist", "album", "choir", "melody"],
              "v": ["sings", "plays", "writes", "records", "hears", "tunes", "performs", "composes"],
              "a": ["loud", "quiet", "soft", "famous", "slow", "lively"]},
    "travel": {"n": ["traveler", "train", "ticket", "hotel", "map", "pilot", "river", "city", "bridge", "guide"],
               "v": ["visits", "crosses", "books", "finds", "leaves", "reaches", "follows", "explores"],
               "a": ["distant", "busy", "small", "old", "crowded", "calm"]},
    "finance": {"n": ["banker", "market", "price", "loan", "bank", "trader", "budget", "coin", "investor", "fund"],
                "v": ["buys", "sells", "lends", "saves", "counts", "raises", "spends", "pays"],
                "a": ["rich", "cheap", "stable", "large", "risky", "modest"]},
    "weather": {"n": ["storm", "cloud", "wind", "rain", "forecaster", "sky", "sun", "snow", "valley", "coast"],
                "v": ["hits", "covers", "cools", "floods", "predicts", "warms", "clears", "moves"],
                "a": ["cold", "dark", "wet", "dry", "windy", "gray"]},
    "animals": {"n": ["dog", "cat", "horse", "bird", "farmer", "fox", "rabbit", "wolf", "sheep", "owl"],
                "v": ["chases", "feeds", "watches", "follows", "bites", "carries", "finds", "hides"],
                "a": ["wild", "gentle", "hungry", "clever", "brown", "shy"]},
}
POSITIVE = ["good", "great", "wonderful", "pleasant", "excellent", "lovely", "happy", "brilliant"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "boring", "ugly", "sad", "dreadful"]
ANTONYM = {"good": "bad", "great": "awful", "wonderful": "terrible", "pleasant": "poor", "excellent": "boring",
           "lovely": "ugly", "happy": "sad", "brilliant": "dreadful"}
ANTONYM.update({v: k for k, v in list(ANTONYM.items())})
SYNONYM = {"quickly": "rapidly", "slowly": "gradually", "often": "frequently", "today": "now", "near": "beside",
           "big": "large", "small": "little", "happy": "glad", "sees": "notices", "likes": "enjoys"}
ADVERBS = ["quickly", "slowly", "often", "today", "rarely", "again"]
PLACES = ["in the park", "near the river", "at the market", "in the city", "on the hill", "at home", "by the sea"]
DETS = ["the", "a", "this", "that", "every", "one"]


def base_form(verb: str) -> str:
    """'kicks' -> 'kick', 'coaches' -> 'coach', 'carries' -> 'carry'."""
    if verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith("es") and verb[:-2].endswith(("sh", "ch", "ss", "x")):
        return verb[:-2]
    return verb[:-1] if verb.endswith("s") else verb
