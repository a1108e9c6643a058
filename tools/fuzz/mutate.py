"""A cheap byte mutator for the in-process smoke run (atheris brings its own, coverage-guided)."""
from __future__ import annotations

import random


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A cheap mutator for the in-process smoke (atheris has its own)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        if choice == 0 and out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:
            del out[rng.randrange(len(out)):]
        elif choice == 2:
            at = rng.randrange(len(out) + 1)
            out[at:at] = rng.randbytes(rng.randint(1, 8))
        elif choice == 3 and out:
            out[rng.randrange(len(out))] = rng.choice((0, 0xFF, 0x7F, 0x80))
        elif out:
            at = rng.randrange(len(out))
            del out[at:at + rng.randint(1, 8)]
    return bytes(out)
