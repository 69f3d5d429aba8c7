"""Random words for passphrases and codenames, from the EFF long word list.

The list (7,776 words, published by the Electronic Frontier Foundation for dice-generated
passphrases) is read from the `xkcdpass` package, which ships it: each word drawn uniformly
adds log2(7776), about 12.9 bits.
"""

from __future__ import annotations

import math
import secrets
from functools import cache
from pathlib import Path

from xkcdpass import xkcd_password

EFF_LONG_LIST_SIZE = 7776
BITS_PER_WORD = math.log2(EFF_LONG_LIST_SIZE)


class WordListError(Exception):
    """The installed word list is not the EFF long list it should be."""


@cache
def eff_long_words() -> tuple[str, ...]:
    """The EFF long word list, checked to be complete and free of duplicates."""
    path = Path(xkcd_password.locate_wordfile("eff-long"))
    words = tuple(path.read_text(encoding="utf-8").split())
    if len(set(words)) != EFF_LONG_LIST_SIZE or len(words) != EFF_LONG_LIST_SIZE:
        raise WordListError(f"{path} is not the EFF long word list ({len(words)} words)")
    return words


def random_words(count: int) -> list[str]:
    """`count` words drawn independently and uniformly with the operating system's CSPRNG."""
    words = eff_long_words()
    return [secrets.choice(words) for _ in range(count)]


def words_for_bits(bits: float) -> int:
    """How many words give at least `bits` bits of entropy."""
    return math.ceil(bits / BITS_PER_WORD)
