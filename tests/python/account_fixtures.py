"""A messy account export and its mapping, written by the tests themselves.

Never the shared datasets: a fresh checkout has no ``../shared``. Bots are young accounts with
few followers, digit-heavy handles, no bio or URL; humans are older, with followers, a bio
(latin-1 accented, quoted) and a URL. The export mixes three date formats (one day-first) and
ends with an exact duplicate row and one id labelled both ways. Like caverlee-2011, the
humans were crawled months before the bots (2024-01-15 vs 2024-05-01).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MAPPING", "STAGING_REJECTS", "write_account_export"]

MAPPING = """
name: fixture
key: {source: uid}
columns:
  created_at: {source: joined, day_first: true}
  screen_name: handle
  description: bio
  url: link
  followers_count: followers
  friends_count: following
  statuses_count: posts
  default_profile_image: egg
  verified: blue
  name: display
  favourites_count: likes
  listed_count: listed
  exported_at: crawled
label: {source: is_bot, positive: ["1"], negative: ["0"]}
"""


STAGING_REJECTS = {9001: "negative_counter", 9002: "pre_launch_timestamp"}
"""The accounts ``staging_rejects`` adds, each with the rule staging quarantines it by."""


def write_account_export(folder: Path, n: int = 80, seed: int = 11,
                         unlabelled: int = 0, staging_rejects: bool = False) -> tuple[Path, Path]:
    """Write ``export.csv`` (latin-1) and ``mapping.yml`` into ``folder``; return both paths.

    ``n`` labelled accounts (every second one a bot) plus 2 rows: read ``n + 2`` = loaded
    ``n - 1`` + quarantined 2 (the conflicting labels) + collapsed 1 (the duplicate).
    ``unlabelled`` more human-like accounts with a blank label, crawled with the humans
    (before the bots): the accounts a team loads to get scores. ``staging_rejects`` adds the
    two labelled accounts of :data:`STAGING_REJECTS`, which load (read and loaded 2 more)
    but which staging quarantines: a negative follower count and a creation date before the
    platform's launch (the loader itself quarantines text with control characters).
    """
    rng = np.random.default_rng(seed)
    lines = ["uid,handle,bio,link,followers,following,posts,egg,blue,joined,display,likes,"
             "listed,crawled,is_bot"]
    for i in range(n):
        bot = i % 2
        age = int(rng.integers(5, 100) if bot else rng.integers(300, 3000))
        crawled = pd.Timestamp("2024-05-01 06:00") if bot else pd.Timestamp("2024-01-15 18:30")
        joined = crawled.normalize() - pd.Timedelta(days=age)
        when = (joined.strftime("%d/%m/%Y %H:%M") if i % 3 == 0
                else joined.strftime("%a %b %d %H:%M:%S +0000 %Y") if i % 3 == 1
                else joined.strftime("%Y-%m-%d %H:%M:%S"))
        handle = f"u{rng.integers(10**6, 10**7)}" if bot else f"nice_name_{chr(97 + i % 26)}"
        lines.append(",".join([
            str(1000 + i), handle, "" if bot else '"Ça va, café"',
            "" if bot else "http://example.org", str(rng.poisson(3 if bot else 400)),
            str(rng.poisson(900 if bot else 300)), str(rng.poisson(50)),
            "1" if bot and i % 4 == 1 else "", "TRUE" if (not bot and i % 10 == 0) else "FALSE",
            when, f"Jo {i}" if bot else f"Jane Doe-{i}", str(rng.poisson(5 if bot else 900)),
            str(rng.poisson(0.2 if bot else 4)), crawled.strftime("%Y-%m-%d %H:%M:%S"), str(bot),
        ]))
    for j in range(unlabelled):
        joined = pd.Timestamp("2024-01-15") - pd.Timedelta(days=int(rng.integers(300, 3000)))
        lines.append(",".join([
            str(5000 + j), f"someone_{j}", '"Ça va, café"', "http://example.org",
            str(rng.poisson(400)), str(rng.poisson(300)), str(rng.poisson(50)), "", "FALSE",
            joined.strftime("%Y-%m-%d %H:%M:%S"), f"Sam Roe-{j}", str(rng.poisson(900)),
            str(rng.poisson(4)), "2024-01-15 18:30:00", "",
        ]))
    if staging_rejects:
        for uid, followers, joined in ((9001, "-5", "2020-02-02 10:00:00"),
                                       (9002, "10", "2005-06-01 10:00:00")):
            lines.append(",".join([str(uid), f"odd_{uid}", "fine", "", followers, "20", "30", "",
                                   "FALSE", joined, "Odd One", "1", "0", "2024-01-15 18:30:00",
                                   "0"]))
    lines.append(lines[5])                                   # an exact duplicate
    lines.append(lines[6].rsplit(",", 1)[0] + ",1" if lines[6].endswith(",0")
                 else lines[6].rsplit(",", 1)[0] + ",0")     # the same id labelled both ways
    csv_path = folder / "export.csv"
    csv_path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    mapping = folder / "mapping.yml"
    mapping.write_text(MAPPING)
    return csv_path, mapping
