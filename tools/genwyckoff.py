"""Write spectool/data/wyckoff.json: each space group's Wyckoff letters, multiplicities and one
representative position, in the settings the AFLOW Encyclopedia of Crystallographic Prototypes uses
(monoclinic unique axis b, cell choice 1; origin choice 2; hexagonal axes for R groups, plus the
rhombohedral-axes representatives its hR parameters refer to).

    pip download --no-deps wyckoff==0.3.2 && unzip wyckoff-0.3.2-*.whl 'wyckoff/data/*'
    python tools/genwyckoff.py wyckoff/data/wyckoff.json

The source is the `wyckoff` package's table (MIT, A. K. Chandran; Bilbao Crystallographic Server
listings of the International Tables, Vol. A). Only the first coordinate triplet of each position is
kept: spectool expands it with spglib's operations of the same setting (spectool/corpus/wyckoff.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUFFIXES = ("-b", "-2", "-hexagonal")  # the setting AFLOW uses where a group has several


def pick(table: dict, number: int) -> list:
    for key in [f"{number}{s}" for s in SUFFIXES] + [str(number)]:
        if key in table:
            return table[key]["wyckoff_positions"]
    raise KeyError(number)


def compact(positions: list) -> list:
    return [[p["letter"], p["multiplicity"], p["coordinates"][0].replace(" ", "")] for p in positions]


def main(source: str) -> None:
    table = json.loads(Path(source).read_text())
    out = {str(n): compact(pick(table, n)) for n in range(1, 231)}
    out.update({f"{n}R": compact(table[f"{n}-rhombohedral"]["wyckoff_positions"])
                for n in (146, 148, 155, 160, 161, 166, 167)})
    text = json.dumps(out, separators=(",", ":")).replace("],[", "],\n[")
    (ROOT / "spectool" / "data" / "wyckoff.json").write_text(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
