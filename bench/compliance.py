"""How long the compliance pre-check takes on a long body against a large lexicon.

Baseline: a plain `str.find` loop over the terms (every occurrence of each),
in the same run, on the same text. Measured against it:

- `pre-check`: `Matcher.check` with the automaton already built (one per policy
  version, as the service keeps it), which also normalises the text and finds
  the evasions that `str.find` misses;
- `building the automaton`: compiling the lexicon, paid once per version.

The issue's target: a 200,000-character body against 5,000 terms well under 50 ms.

    python -m bench.compliance [--chars 200000] [--terms 5000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from bench.report import report
from nm_workflow.domain.compliance import Matcher

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
SEPARATORS = ["\uff0c", "。", " ", "、", "\n", "-", "\u200b"]  # full-width comma first


def lexicon(terms: int, rng: random.Random) -> list[str]:
    chosen: set[str] = set()
    while len(chosen) < terms:
        chosen.add("".join(rng.choices(CJK, k=rng.randint(2, 4))))
    return sorted(chosen)


def body(chars: int, terms: list[str], rng: random.Random) -> str:
    """CJK text with punctuation, and some terms written plainly or with a separator inside."""
    parts: list[str] = []
    length = 0
    while length < chars:
        if rng.random() < 0.02:
            term = rng.choice(terms)
            part = term if rng.random() < 0.5 else term[0] + rng.choice(SEPARATORS) + term[1:]
        else:
            part = "".join(rng.choices(CJK, k=rng.randint(5, 20))) + rng.choice(SEPARATORS)
        parts.append(part)
        length += len(part)
    return "".join(parts)[:chars]


def _seconds(operation: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(chars: int, terms: int = 5000) -> dict[str, float]:
    """Seconds per operation of each case, the str.find baseline first."""
    rng = random.Random(7)
    words = lexicon(terms, rng)
    text = body(chars, words, rng)
    categories = [{"name": "bench", "severity": "warn", "legal_basis": "bench", "terms": words}]
    matcher = Matcher({"categories": categories}, version=1)

    def find_loop() -> int:
        found = 0
        for word in words:
            at = text.find(word)
            while at != -1:
                found += 1
                at = text.find(word, at + 1)
        return found

    return {
        f"baseline: str.find loop over {terms} terms": _seconds(find_loop),
        "pre-check (automaton built)": _seconds(lambda: matcher.check({"body": text})),
        "building the automaton": _seconds(lambda: Matcher({"categories": categories}, version=1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chars", type=int, default=200_000, help="length of the body")
    parser.add_argument("--terms", type=int, default=5000, help="terms in the lexicon")
    args = parser.parse_args()
    seconds = run(args.chars, args.terms)
    print(report({case: 60 / s for case, s in seconds.items()}, "per min"))
    for case, s in seconds.items():
        print(f"{case}: {s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
