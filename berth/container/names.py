"""Container names: Docker's `adjective_surname` form when the user gives none, and the rule
a given name must follow."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

from berth import names
from berth.errors import InvalidArgument

_ADJECTIVES = (
    "admiring adoring affectionate agitated amazing angry awesome blissful bold boring brave "
    "busy charming clever cool compassionate competent confident cranky crazy dazzling "
    "determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic "
    "fervent festive flamboyant focused friendly frosty gallant gifted goofy gracious happy "
    "hardcore heuristic hopeful hungry infallible inspiring jolly jovial keen kind laughing "
    "loving lucid magical modest musing mystifying naughty nervous nice nifty nostalgic "
    "objective optimistic peaceful pedantic pensive practical priceless quirky quizzical "
    "relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied "
    "suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous "
    "wizardly wonderful xenodochial youthful zealous zen"
).split()
_SURNAMES = (
    "agnesi albattani allen almeida archimedes ardinghelli aryabhata austin babbage banach "
    "bardeen bartik bassi beaver bell benz bhabha bhaskara blackwell bohr booth borg bose "
    "brahmagupta brattain brown carson cartwright cerf chandrasekhar chaplygin chatelet "
    "chatterjee chebyshev clarke cohen colden cori cray curie darwin davinci dewdney dhawan "
    "diffie dijkstra dirac driscoll dubinsky easley edison einstein elbakyan elgamal elion "
    "ellis engelbart euclid euler faraday feistel fermat fermi feynman franklin gagarin "
    "galileo galois gauss germain goldberg goldstine goldwasser golick goodall gould greider "
    "grothendieck haibt hamilton haslett hawking heisenberg hellman hermann herschel hertz "
    "heyrovsky hodgkin hofstadter hoover hopper hugle hypatia jackson jang jennings jepsen "
    "johnson joliot jones kalam kapitsa kare keldysh keller kepler khorana kilby kirch knuth "
    "kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann lewin lichterman "
    "liskov lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy mcclintock "
    "mclean mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani montalcini "
    "moore morse moser murdock napier nash neumann newton nightingale nobel noether northcutt "
    "noyce panini pare pascal pasteur payne perlman pike poincare poitras proskuriakova "
    "ptolemy raman ramanujan rhodes ride ritchie robinson roentgen rosalind rubin saha "
    "sammet sanderson satoshi shamir shannon shaw shirley shockley shtern sinoussi snyder "
    "solomon spence stonebraker sutherland swanson swartz swirles taussig tesla tharp "
    "thompson torvalds tu turing varahamihira vaughan villani visvesvaraya volhard wescoff "
    "wilbur wiles williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky"
).split()


T = TypeVar("T")


def _pick(choices: Sequence[T]) -> T:
    """A choice from the kernel's random bytes (the `random` module costs `run` ~1 ms of
    imports; a name needs no better distribution than this)."""
    return choices[int.from_bytes(os.urandom(4), "little") % len(choices)]


def random_name(taken: set[str]) -> str:
    for attempt in range(100):
        name = f"{_pick(_ADJECTIVES)}_{_pick(_SURNAMES)}"
        if attempt:
            name += str(_pick(range(10)))
        if name not in taken:
            return name
    raise InvalidArgument("could not pick a free container name; give one with --name")


def check_name(name: str) -> str:
    return names.check_name(name, "container")
