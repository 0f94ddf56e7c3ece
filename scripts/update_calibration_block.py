"""Rewrite README.md's calibration block from ``scalinglaw calibrate --markdown`` (about 20 seconds).

Usage (needs the collection: $SCALINGLAW_SOURCES or network)::

    python scripts/update_calibration_block.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from scalinglaw.guide.calibration import calibrate

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- calibration:start[^\n]*-->\n)(.*?)(<!-- calibration:end -->)", re.S)


def main() -> int:
    text = README.read_text()
    if not BLOCK.search(text):
        print("README.md has no calibration block markers", file=sys.stderr)
        return 1
    table = calibrate().to_markdown()
    README.write_text(BLOCK.sub(lambda m: m.group(1) + table + m.group(3), text, count=1))
    print(f"updated {README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
