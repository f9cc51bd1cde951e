"""Simulate a social platform: humans, botnets and hard cases, written as the raw tables.

The simulator writes the six tables of :data:`botsift.schema.RAW_TABLES` into the schema
``raw`` of a DuckDB file. It is built for volume: numeric columns come from numpy
(``np.random.Generator``), text columns are assembled from small vocabularies with Arrow
compute kernels or DuckDB SQL, and each simulated day is generated and appended on its own,
so memory stays bounded by one day of events plus the account population.

Determinism: the population (accounts, botnets, friends) is drawn from an RNG seeded by
``seed``; day ``d``'s events from an RNG seeded by ``(seed, d)``. Same config, same rows
(except ``_loaded_at``), and extending a simulation by ``k`` days gives the same event rows
as simulating ``days + k`` days in one go.

Two hidden tables support evaluation and tests only (dbt models must never read them):
``raw._simulation`` (the config as JSON) and ``raw._simulation_truth`` (who is a bot).
"""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from botsift import SEED_MAX
from botsift.errors import BotsiftError
from botsift.project import connect_warehouse, warn_if_built
from botsift.schema import (
    INTERACTION_ACTIONS,
    LOGIN_RESULTS,
    RAW_SCHEMA,
    RAW_TABLES,
    REGIONS,
    REVIEW_DECISIONS,
    SIGNUP_CLIENTS,
    raw_ddl,
)

__all__ = ["SimulationConfig", "simulate_platform", "extend_simulation", "EVENT_TABLES"]

log = logging.getLogger(__name__)

EVENT_TABLES = ("posts", "logins", "follows", "interactions", "ops_reviews")
"""Raw tables that grow day by day (``accounts`` is a snapshot rewritten on every load)."""

_US_PER_H = 3_600_000_000
_US_PER_DAY = 24 * _US_PER_H
_EPOCH = datetime(1970, 1, 1)
_ID_STRIDE = 10_000_000_000  # event ids are (day + 1) * stride + rank within the day
_REF_DAYS = 30  # review_share is the share of accounts reviewed over this many days
_BIASED_REVIEW_ERROR = 0.4  # wrong-decision rate of reviews of biased_region humans

# Account kinds. Humans 0-3, bots 4-7.
HUMAN, POWER, SMM, BRAND, SPAM, FAKE, CAREFUL, DRIFT = range(8)
_FAMILY = {SPAM: "spam", FAKE: "fake_follower", CAREFUL: "careful", DRIFT: "drift_wave"}
_N_FRIENDS = 5

# ---------------------------------------------------------------------------------------------
# Vocabularies: small lists that text columns are assembled from.
# ---------------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    return text.split()


_WORDS = _words("""the a to and of in is it you that for on with this was my at be have just so
but not are all like what we me your out up about get one no can now when will if today
time day good love new people know more how going some really back think great see got
night much want still well make first right last year work game life need way come best
thanks lol home feel week better happy morning never weekend coffee music team watch show
friends family city food rain summer winter season book movie song album trip train bus
road office school class study exam project meeting lunch dinner breakfast pizza tea beer
football match goal win lost score player coach fans news story article video photo pic
picture phone app update bug code data launch release design idea plan hope dream tired
sleep late early soon finally again always maybe probably actually literally honestly
amazing awesome beautiful funny weird crazy cool nice sad angry excited proud ready busy
free open closed hot cold sunny cloudy windy park beach mountain river lake garden dog cat
kids baby birthday party wedding holiday vacation flight airport hotel street market shop
price money bank rent job career interview boss client customer service support
question answer problem solution talk listen read write learn teach help share follow post
thread reply vote election policy government local community event concert festival art
museum history science space earth climate energy health doctor gym run walk bike yoga
recipe cook bake cake bread soup salad chicken rice noodles tacos burger fries snack""")
_HASHTAGS = _words("""monday tbt nowplaying football coffee travel foodie art music news tech
science books photography weekend gaming fitness climate election startup design""")
_FIRST = _words("""anna ben carla david emma felix grace hugo ines jack kate leo maria nina omar
paula quinn rosa sam tara uma victor wendy xavier yara zoe ahmed bruno chen dana elif
fatima george hana ivan julia kenji lucia marco nadia oscar priya raj sofia tomas ugo
vera wei yusuf amara kwame lina mateo noor olga pedro rania sipho thabo ayumi jin""")
_LAST = _words("""smith jones garcia muller rossi silva santos kim lee wang nguyen okafor mensah
kowalski novak dubois martin lopez gonzalez perez sato tanaka suzuki chen li patel shah
khan ali hassan ibrahim brown wilson taylor moore clark walker young king wright scott
green baker adams nelson hill campbell mitchell roberts carter phillips evans turner""")
_BIO = _words("""dad mom student teacher engineer designer writer runner gamer coffee lover
traveler photographer nurse developer musician artist reader cook fan dreamer founder
husband wife dog cat plants football books science nature hiking views my own opinions
he she they born raised living in love life tea music film""")
_BOT_BIO = ["", "", "follow back", "dm for promo", "crypto | forex | signals",
            "make money online", "100% follow back", "best deals daily", "win prizes every day"]
_FAKE_PHRASES = ["nice", "good morning", "follow back?", "so true", "wow", "amazing post",
                 "great", "hello everyone", "thanks for the follow", "love this", "yes", "cool"]
# Spam templates: text = prefix number middle url. The number and url vary per post, so raw
# texts differ while the text with digits and urls stripped repeats.
_SPAM_TPL = [
    ("Earn $", "a day working from home, no experience needed! Start now"),
    ("Only", "spots left for the crypto signals group, join before midnight"),
    ("Claim your free gift card worth $", "today, limited offer, click"),
    ("Get", "followers in 24 hours guaranteed, cheap and safe"),
    ("Our members made", "% profit this week with one simple trick, see"),
    ("Congrats! You are winner number", "of our giveaway, claim the prize at"),
    ("Hot singles in your area:", "new matches waiting for you"),
    ("Flash sale:", "% off designer watches, free shipping worldwide"),
    ("Bitcoin doubler: send", "and get double back instantly"),
    ("Watch the full video,", "people already saw it, link here"),
    ("Loan approved in", "minutes, no credit check, apply"),
    ("Free iPhone for the first", "people who retweet and visit"),
]
_BRAND_TPL = [
    ("New arrivals are in! Save", "% this weekend only at"),
    ("Our spring collection: up to", "% off, shop now"),
    ("Join", "happy customers, order today at"),
    ("Webinar tomorrow with", "seats left, register at"),
    ("Free delivery on orders over $", "this week, details at"),
    ("Customer support is open", "hours a day, reach us via"),
]
_DRIFT_WORDS = _words("""deal drop link now free hot gift promo bonus live new code win open tap
look see check vip app""")
_NOTES = {
    "suspended_spam": ["repetitive promotional content", "link spam to known bad domains",
                       "mass mentions of unrelated accounts", "automated posting pattern"],
    "suspended_fake_followers": ["follow churn from shared infrastructure",
                                 "part of a follower-selling network", "mass following"],
    "cleared": ["normal activity on review", "legitimate heavy user",
                "report not substantiated", "brand account, verified owner"],
    "warned": ["borderline promotional content", "aggressive following, first warning",
               "unusual login pattern, asked to secure account"],
}
_LANGS = {
    "na": (["en", "es", "fr"], [0.85, 0.12, 0.03]),
    "eu": (["en", "de", "fr", "es", "it"], [0.35, 0.2, 0.2, 0.15, 0.1]),
    "latam": (["es", "pt", "en"], [0.6, 0.3, 0.1]),
    "apac": (["en", "ja", "id", "zh", "ko"], [0.35, 0.25, 0.15, 0.15, 0.1]),
    "africa": (["en", "fr", "sw", "ar"], [0.5, 0.25, 0.15, 0.1]),
}
_REGION_WEIGHT = {"na": 0.25, "eu": 0.25, "latam": 0.15, "apac": 0.25, "africa": 0.10}

# Local-hour activity profiles (relative weights per hour 0..23).
_P_HUMAN = [.15, .08, .05, .04, .04, .06, .2, .5, .8, .9, .9, 1, 1.1, 1, .9, .9, 1, 1.1,
            1.3, 1.5, 1.6, 1.5, 1.1, .5]
_P_NIGHT = [.6, .5, .45, .4, .4, .45, .5, .6, .8, .9, .9, 1, 1.1, 1, .9, .9, 1, 1.1, 1.3,
            1.4, 1.4, 1.3, 1.1, .8]
_P_BUSINESS = [.03, .02, .02, .02, .02, .05, .2, .6, 1.3, 1.5, 1.5, 1.4, 1.2, 1.4, 1.5, 1.5,
               1.3, 1, .6, .4, .3, .2, .1, .05]
_P_FLAT = [1.0] * 24
_P_DRIFT = [.35, .3, .3, .3, .3, .35, .5, .8, 1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.1, 1.2,
            1.3, 1.3, 1.3, 1.2, 1, .6]
_PROFILES = np.array([_P_HUMAN, _P_NIGHT, _P_BUSINESS, _P_FLAT, _P_DRIFT])
_PROFILE_CDF = np.cumsum(_PROFILES / _PROFILES.sum(1, keepdims=True), axis=1)
PROF_HUMAN, PROF_NIGHT, PROF_BUSINESS, PROF_FLAT, PROF_DRIFT = range(5)

# Per kind: login result probabilities (success, failed_password, failed_captcha, failed_2fa).
_LOGIN_P = np.array([
    [.93, .05, .01, .01], [.92, .05, .02, .01], [.92, .05, .02, .01], [.93, .04, .02, .01],
    [.80, .04, .15, .01], [.78, .05, .16, .01], [.90, .05, .04, .01], [.82, .03, .14, .01],
])
# Per kind: interaction action probabilities (like, repost, reply).
_ACTION_P = np.array([
    [.72, .16, .12], [.6, .25, .15], [.55, .3, .15], [.5, .45, .05],
    [.4, .55, .05], [.85, .13, .02], [.7, .2, .1], [.35, .6, .05],
])
# Per kind: signup client probabilities (android, ios, web, api).
_CLIENT_P = np.array([
    [.45, .35, .17, .03], [.4, .3, .25, .05], [.2, .15, .45, .2], [.1, .1, .5, .3],
    [.15, .1, .45, .3], [.2, .1, .4, .3], [.35, .3, .3, .05], [.55, .45, 0, 0],
])


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: population, window, bot mix and the scenario switches.

    Parameters
    ----------
    n_accounts : int
        Accounts in the population (at least 100), bots included.
    days : int
        Days of activity, from ``start_date``.
    start_date : date
        The first simulated day (UTC midnight).
    bot_share : float
        Share of accounts that are bots, in (0, 0.5].
    regions : tuple of str
        Region codes accounts live in (keys of :data:`botsift.schema.REGIONS`).
    seed : int
        Random seed: same config and seed, same data.
    drift_day : int or None
        0-based day a new bot family (``drift_wave``) signs up and starts posting; ``None``
        for never. Days before it are drawn from one stable distribution.
    biased_region : str or None
        Humans of this region get shared carrier-NAT IPs and more night activity, and ops
        reviewers wrongly suspend 40% of the ones they review (label bias), so that a model
        trained on those labels flags them more (for fairness tests).
    review_share : float
        Share of accounts an ops review covers per 30 days (biased to suspicious accounts).
    label_noise : float
        Probability that an ops review decision is wrong.
    enforce_suspensions : bool
        Whether a suspension takes the account off the platform: from its first
        ``suspended_*`` review on it posts, logs in, follows, interacts and is reviewed no
        more, as on a real platform (where a second suspension needs a reinstatement first).
        Off by default, which keeps earlier simulations' rows: suspended accounts then carry
        on and are suspended again and again.
    """

    n_accounts: int = 20_000
    days: int = 30
    start_date: date = date(2026, 10, 1)
    bot_share: float = 0.03
    regions: tuple[str, ...] = tuple(REGIONS)
    seed: int = 42
    drift_day: int | None = 21
    biased_region: str | None = None
    review_share: float = 0.05
    label_noise: float = 0.05
    enforce_suspensions: bool = False

    def validate(self) -> None:
        """Raise :class:`BotsiftError` if any setting is out of range."""
        if self.n_accounts < 100:
            raise BotsiftError(f"n_accounts={self.n_accounts}: simulate at least 100 accounts")
        if self.days < 1:
            raise BotsiftError(f"days={self.days}: simulate at least 1 day")
        if not 0 <= self.seed <= SEED_MAX:
            raise BotsiftError(f"seed={self.seed}: must be in [0, 2**32 - 1]")
        if not 0 < self.bot_share <= 0.5:
            raise BotsiftError(f"bot_share={self.bot_share}: must be in (0, 0.5]")
        if not self.regions:
            raise BotsiftError("regions is empty: give at least one region")
        unknown = [r for r in (*self.regions, self.biased_region)
                   if r is not None and r not in REGIONS]
        if unknown:
            raise BotsiftError(f"unknown region(s) {unknown}: choose from {sorted(REGIONS)}")
        if self.biased_region is not None and self.biased_region not in self.regions:
            raise BotsiftError(f"biased_region={self.biased_region!r} is not one of the "
                               f"simulated regions {list(self.regions)}")
        if self.drift_day is not None and self.drift_day < 0:
            raise BotsiftError(f"drift_day={self.drift_day}: must be >= 0 or None")
        if not 0 <= self.review_share <= 1:
            raise BotsiftError(f"review_share={self.review_share}: must be in [0, 1]")
        if not 0 <= self.label_noise < 0.5:
            raise BotsiftError(f"label_noise={self.label_noise}: must be in [0, 0.5)")

    def to_json(self) -> str:
        """Return the config as a JSON string (dates as ISO strings)."""
        d = asdict(self)
        d["start_date"] = self.start_date.isoformat()
        d["regions"] = list(self.regions)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimulationConfig:
        """Build a config from :meth:`to_json` output."""
        d = json.loads(text)
        d["start_date"] = date.fromisoformat(d["start_date"])
        d["regions"] = tuple(d["regions"])
        d.setdefault("enforce_suspensions", False)  # configs saved before the option
        return cls(**d)


# ---------------------------------------------------------------------------------------------
# Population
# ---------------------------------------------------------------------------------------------
@dataclass
class _Population:
    """Per-account arrays (index i is account id i + 1), drawn once from the seed."""

    n: int
    kind: np.ndarray  # int8
    botnet: np.ndarray  # int32, -1 for none
    region: np.ndarray  # int8 index into config.regions
    offset_h: np.ndarray  # int8 UTC offset
    created_us: np.ndarray  # int64 microseconds since epoch
    profile: np.ndarray  # int8 activity profile
    post_rate: np.ndarray
    login_rate: np.ndarray
    follow_rate: np.ndarray
    interact_rate: np.ndarray
    popularity_cdf: np.ndarray  # over mention/follow pool
    pool: np.ndarray  # indices of accounts that exist before the window
    friends: np.ndarray  # (n, _N_FRIENDS) int32
    home_ip: np.ndarray  # uint32 (as int64)
    shared_ip: np.ndarray  # int64 base of a shared pool (office, carrier NAT, botnet)
    shared_n: np.ndarray  # int64 size of that pool
    p_shared: np.ndarray
    p_home: np.ndarray
    dev_base: np.ndarray  # int64
    dev_n: np.ndarray  # int64
    bn_customers: np.ndarray  # (n_botnets, 10) int64 account indices
    bn_template: np.ndarray  # (n_botnets,) first spam template
    review_hazard: np.ndarray  # per-day probability of an ops review
    static: dict[str, np.ndarray]  # profile columns for raw.accounts


def _ip_str(col: str) -> str:
    """SQL expression turning a uint32 held in a BIGINT column into a dotted IPv4 string."""
    return (f"concat_ws('.', ({col} >> 24) & 255, ({col} >> 16) & 255, "
            f"({col} >> 8) & 255, {col} & 255)")


def _random_ips(rng: np.random.Generator, m: int, first: list[int] | None = None) -> np.ndarray:
    """Random public-looking IPv4 addresses as int64 (first octet from ``first``)."""
    octet = (rng.choice(np.array(first), m) if first
             else rng.integers(24, 224, m))
    return (octet.astype(np.int64) << 24) | rng.integers(0, 1 << 24, m, dtype=np.int64)


def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: float) -> np.ndarray:
    """Lognormal draws with the given arithmetic means."""
    return mean * rng.lognormal(-sigma * sigma / 2, sigma, len(mean))


def _population(cfg: SimulationConfig) -> _Population:
    """Draw the account population; depends on the config but not on ``days``."""
    rng = np.random.default_rng([cfg.seed, 0])
    n = cfg.n_accounts
    start_us = _to_us(cfg.start_date)

    n_bots = max(4, round(cfg.bot_share * n))
    n_drift = round(0.25 * n_bots) if cfg.drift_day is not None else 0
    rest = n_bots - n_drift
    n_fake = round(0.35 * rest)
    n_careful = round(0.2 * rest)
    n_spam = rest - n_fake - n_careful
    n_h = n - n_bots
    n_power, n_smm, n_brand = round(0.02 * n_h), round(0.01 * n_h), round(0.005 * n_h)
    counts = {HUMAN: n_h - n_power - n_smm - n_brand, POWER: n_power, SMM: n_smm,
              BRAND: n_brand, SPAM: n_spam, FAKE: n_fake, CAREFUL: n_careful, DRIFT: n_drift}
    kind = rng.permutation(np.concatenate(
        [np.full(c, k, np.int8) for k, c in counts.items()]))
    is_bot = kind >= SPAM

    # Regions and UTC offsets.
    w = np.array([_REGION_WEIGHT.get(r, 0.15) for r in cfg.regions])
    region = rng.choice(len(cfg.regions), n, p=w / w.sum()).astype(np.int8)
    offsets = np.array([REGIONS[r] for r in cfg.regions], np.int8)

    # Botnets: each bot family's members are cut into groups of 5-50.
    botnet = np.full(n, -1, np.int32)
    n_bn = 0
    for k in (SPAM, FAKE, CAREFUL, DRIFT):
        idx = np.flatnonzero(kind == k)
        sizes = rng.integers(5, 51, len(idx) // 5 + 1)
        groups = np.repeat(np.arange(len(sizes)), sizes)[: len(idx)]
        botnet[idx] = n_bn + groups
        n_bn += int(groups.max()) + 1 if len(idx) else 0
    n_bn = max(n_bn, 1)
    bn_region = rng.integers(0, len(cfg.regions), n_bn)
    in_bn = botnet >= 0
    # Bots claim their botnet's region (operators run one campaign per market).
    region[in_bn] = bn_region[botnet[in_bn]].astype(np.int8)
    biased = np.zeros(n, bool)
    if cfg.biased_region is not None:
        biased = (region == cfg.regions.index(cfg.biased_region)) & ~is_bot
    offset_h = offsets[region]

    # Ages: humans from 2010 on; botnet waves sign up in bursts; some bots are bought/aged.
    max_age = (start_us - _to_us(date(2010, 1, 1))) / _US_PER_DAY
    age_days = 7 + (max_age - 7) * rng.beta(1.4, 1.8, n)
    created = start_us - (age_days * _US_PER_DAY).astype(np.int64)
    bn_wave = start_us - (rng.uniform(2, 420, n_bn) * _US_PER_DAY).astype(np.int64)
    if cfg.drift_day is not None:
        drift_bn = np.unique(botnet[kind == DRIFT])
        bn_wave[drift_bn] = (start_us + cfg.drift_day * _US_PER_DAY
                             + (rng.uniform(0, 2, len(drift_bn)) * _US_PER_DAY).astype(np.int64))
    burst = rng.exponential(1.5 * _US_PER_H, n).astype(np.int64)
    aged = is_bot & (kind != DRIFT) & (rng.random(n) < 0.2)
    careful = kind == CAREFUL
    wave = in_bn & ~aged & ~careful
    created[wave] = bn_wave[botnet[wave]] + burst[wave]
    created[careful] = start_us - (rng.uniform(30, 1500, careful.sum()) * _US_PER_DAY).astype(
        np.int64)
    # Wave bots created at or after the window start belong to the drift family only.
    pre = (kind != DRIFT)
    created[pre] = np.minimum(created[pre], start_us - 60_000_000)

    # Activity profiles and rates (lognormal, overlapping between humans and bots).
    profile = np.full(n, PROF_HUMAN, np.int8)
    profile[biased] = PROF_NIGHT
    profile[(kind == BRAND) | (kind == SMM)] = PROF_BUSINESS
    profile[(kind == SPAM) | (kind == FAKE)] = PROF_FLAT
    profile[kind == DRIFT] = PROF_DRIFT
    # A third of spam botnets run on a schedule that looks human.
    human_sched = (kind == SPAM) & (rng.random(n_bn)[np.maximum(botnet, 0)] < 0.33)
    profile[human_sched] = PROF_HUMAN

    def by_kind(values: list[float]) -> np.ndarray:
        return np.asarray(values)[kind]

    post_rate = _lognormal(rng, by_kind([0.2, 5, 1.5, 2, 7, 0.08, 0.8, 5]), 1.0)
    post_rate[biased] *= 1.5
    login_rate = _lognormal(rng, by_kind([0.3, 1.5, 1.2, 0.8, 2.5, 2, 0.5, 2.5]), 0.8)
    follow_rate = _lognormal(rng, by_kind([0.12, 0.8, 0.5, 0.3, 1.5, 18, 0.6, 3]), 1.0)
    interact_rate = _lognormal(rng, by_kind([0.4, 4, 1.5, 0.5, 2, 3, 1, 3]), 1.0)

    # Pool of accounts that exist before the window: targets of mentions, follows, friends.
    pool = np.flatnonzero(kind != DRIFT)
    pop = _lognormal(rng, by_kind([1, 6, 2, 15, 0.3, 0.1, 0.8, 0.2]), 1.3)
    popularity_cdf = np.cumsum(pop[pool])
    popularity_cdf /= popularity_cdf[-1]

    # Friends: accounts of the same region (never oneself).
    order = pool[np.argsort(region[pool], kind="stable")]
    reg_sorted = region[order]
    starts = np.searchsorted(reg_sorted, np.arange(len(cfg.regions)))
    ends = np.searchsorted(reg_sorted, np.arange(len(cfg.regions)), side="right")
    bs, bl = starts[region].astype(np.int64), np.maximum(ends - starts, 1)[region].astype(np.int64)
    r = rng.integers(0, 1 << 40, (n, _N_FRIENDS)) % bl[:, None]
    friends = order[np.minimum(bs[:, None] + r, len(order) - 1)]
    selfish = friends == np.arange(n)[:, None]
    alt = order[np.minimum(bs[:, None] + (r + 1) % bl[:, None], len(order) - 1)]
    friends = np.where(selfish, alt, friends).astype(np.int32)

    # Network identity: home IP, shared pools (office, carrier NAT, botnet), devices.
    home_ip = _random_ips(rng, n)
    shared_ip = np.zeros(n, np.int64)
    shared_n = np.ones(n, np.int64)
    p_shared = np.zeros(n)
    p_home = np.full(n, 0.85)
    smm = np.flatnonzero(kind == SMM)
    offices = _random_ips(rng, len(smm) // 8 + 1)
    shared_ip[smm] = offices[rng.integers(0, len(offices), len(smm))]
    p_shared[smm], p_home[smm] = 0.7, 0.2
    cgnat_n = max(16, int(biased.sum()) // 400)
    shared_ip[biased] = (100 << 24) | (64 << 16)
    shared_n[biased] = cgnat_n
    p_shared[biased], p_home[biased] = 0.9, 0.05
    bn_ip = _random_ips(rng, n_bn, first=[45, 91, 104, 138, 159, 185, 193])
    bn_nips = rng.integers(1, 5, n_bn)
    netted = in_bn & ~careful
    shared_ip[netted] = bn_ip[botnet[netted]]
    shared_n[netted] = bn_nips[botnet[netted]]
    p_shared[netted], p_home[netted] = 0.9, 0.0
    drift = kind == DRIFT
    shared_ip[drift] = bn_ip[botnet[drift]] & ~np.int64(255)
    shared_n[drift], p_shared[drift] = 256, 0.95
    p_home[careful] = 0.9
    dev_base = rng.integers(1 << 36, 1 << 44, n, dtype=np.int64)
    dev_n = np.where(rng.random(n) < 0.15, 2, 1).astype(np.int64)
    bn_dev = rng.integers(1 << 36, 1 << 44, n_bn, dtype=np.int64)
    dev_base[netted] = bn_dev[botnet[netted]]
    dev_n[netted] = rng.integers(1, 4, n_bn)[botnet[netted]]

    signup_ip = home_ip.copy()
    signup_ip[biased] = shared_ip[biased] + rng.integers(0, cgnat_n, int(biased.sum()))
    office_signup = (kind == SMM) & (rng.random(n) < 0.5)
    signup_ip[office_signup] = shared_ip[office_signup]
    signup_ip[wave] = bn_ip[botnet[wave]]
    signup_ip[drift] = shared_ip[drift] + rng.integers(0, 256, int(drift.sum()))

    bn_customers = pool[rng.integers(0, len(pool), (n_bn, 10))]
    bn_template = rng.integers(0, len(_SPAM_TPL), n_bn)

    # Ops review hazard: reports make suspicious accounts far more likely to be reviewed.
    weight = by_kind([0.4, 2, 2, 2, 8, 6, 4, 8]).astype(float)
    weight[biased] *= 2
    weight /= weight.mean()
    review_hazard = np.clip(weight * cfg.review_share / _REF_DAYS, 0, 1)

    static = _profile_columns(rng, cfg, kind, region, biased, is_bot)
    static["signup_ip"] = signup_ip
    static["signup_device"] = dev_base
    cum = np.cumsum(_CLIENT_P, axis=1)[kind]
    static["signup_client"] = (rng.random(n)[:, None] > cum[:, :3]).sum(1).astype(np.int8)

    # Pre-window history for the export-time counters.
    age = np.maximum(start_us - created, 0) / _US_PER_DAY
    hist = rng.uniform(0.2, 1.0, n)
    static["pre_statuses"] = rng.poisson(post_rate * age * hist * 0.6)
    static["pre_friends"] = rng.poisson(np.minimum(follow_rate * age * hist * 0.3, 4000))
    static["pre_followers"] = rng.poisson(np.minimum(pop * 40 * np.sqrt(age / 365 + 0.05),
                                                     2e6))
    static["pre_likes"] = rng.poisson(interact_rate * age * hist * 0.5)
    static["listed"] = rng.poisson(static["pre_followers"] / 300 + 0.05)

    return _Population(
        n=n, kind=kind, botnet=botnet, region=region, offset_h=offset_h, created_us=created,
        profile=profile, post_rate=post_rate, login_rate=login_rate, follow_rate=follow_rate,
        interact_rate=interact_rate, popularity_cdf=popularity_cdf, pool=pool,
        friends=friends, home_ip=home_ip, shared_ip=shared_ip, shared_n=shared_n,
        p_shared=p_shared, p_home=p_home, dev_base=dev_base, dev_n=dev_n,
        bn_customers=bn_customers,
        bn_template=bn_template, review_hazard=review_hazard, static=static,
    )


def _take(vocab: list[str], idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Vocabulary entries at ``idx`` (null where ``mask`` is true)."""
    return pc.take(pa.array(vocab), pa.array(idx, mask=mask))


def _join(*parts: pa.Array | str, sep: str = " ") -> pa.Array:
    """Join string arrays (or constants) element-wise, skipping nulls."""
    # Not null_handling="skip": pyarrow 26 drops rows whose inputs are all null with it.
    args = []
    for i, p in enumerate(parts):
        a = pa.scalar(p) if isinstance(p, str) else p
        if i and sep:
            a = pc.binary_join_element_wise(pa.scalar(sep), a, "", null_handling="emit_null")
        args.append(pc.fill_null(a, "") if not isinstance(a, pa.Scalar) else a)
    out = pc.binary_join_element_wise(*args, "")
    return pc.utf8_ltrim(out, characters=sep) if sep else out


def _num(values: np.ndarray) -> pa.Array:
    """Integers as a string array."""
    return pc.cast(pa.array(values.astype(np.int64)), pa.string())


def _profile_columns(rng: np.random.Generator, cfg: SimulationConfig, kind: np.ndarray,
                     region: np.ndarray, biased: np.ndarray, is_bot: np.ndarray
                     ) -> dict[str, np.ndarray]:
    """Profile columns of raw.accounts: names, bios, flags, language, url."""
    n = len(kind)
    first = rng.integers(0, len(_FIRST), n)
    last = rng.integers(0, len(_LAST), n)
    fn, ln = _take(_FIRST, first), _take(_LAST, last)
    # Humans sometimes add digits; bots usually carry long digit runs, sometimes none.
    u = rng.random(n)
    digits = np.where(u < 0.25, rng.integers(1, 100, n),
                      np.where(u < 0.35, rng.integers(1950, 2011, n), -1))
    bot_digits = rng.integers(10_000, 100_000_000, n)
    use_bot = is_bot & (rng.random(n) < 0.7)
    digits = np.where(use_bot, bot_digits, digits)
    sep = _take(["", "_", "."], rng.integers(0, 3, n))
    word = _take(_WORDS[60:], rng.integers(0, len(_WORDS) - 60, n))
    first_part = pc.if_else(pa.array(use_bot & (rng.random(n) < 0.5)), word, fn)
    screen = _join(first_part, sep, ln, sep="")
    screen = pc.if_else(pa.array(digits >= 0), _join(screen, _num(np.maximum(digits, 0)),
                                                     sep=""), screen)
    brand = kind == BRAND
    screen = pc.if_else(pa.array(brand), _join(word, "official", sep=""), screen)
    name = _join(pc.utf8_capitalize(fn), pc.utf8_capitalize(ln))
    name = pc.if_else(pa.array(brand), _join(pc.utf8_capitalize(word), "Official"), name)

    n_bio = rng.integers(2, 9, n)
    slots = rng.integers(0, len(_BIO), (8, n))
    bio = _join(*[_take(_BIO, slots[j], mask=j >= n_bio) for j in range(8)])
    empty_bio = np.where(is_bot, rng.random(n) < 0.45, rng.random(n) < 0.3)
    bio = pc.if_else(pa.array(empty_bio), pa.scalar(""), bio)
    bot_bio = _take(_BOT_BIO, rng.integers(0, len(_BOT_BIO), n))
    bio = pc.if_else(pa.array(is_bot & (kind != CAREFUL) & (rng.random(n) < 0.5)), bot_bio, bio)
    bio = pc.if_else(pa.array(brand), _join("Official account of", pc.utf8_capitalize(word),
                                            ". Support and offers."), bio)

    lang = np.empty(n, object)
    for ri, r in enumerate(cfg.regions):
        m = region == ri
        langs, p = _LANGS.get(r, (["en"], [1.0]))
        lang[m] = rng.choice(langs, int(m.sum()), p=p)
    lang[is_bot & (rng.random(n) < 0.6)] = "en"

    has_url = rng.random(n) < np.where(brand, 0.95, np.where(is_bot, 0.45, 0.15))
    url_h = _join("https://", word, _take(_LAST, last), ".com", sep="")
    url_b = _join("https://bit.ly/", _num(rng.integers(1 << 20, 1 << 34, n)), sep="")
    url = pc.if_else(pa.array(is_bot & (kind != CAREFUL)), url_b, url_h)
    url = pc.if_else(pa.array(has_url), url, pa.scalar(None, pa.string()))

    default_img = rng.random(n) < np.where(is_bot & (kind != CAREFUL), 0.5, 0.08)
    verified = rng.random(n) < np.where(is_bot, 0.001, np.where(brand, 0.3, 0.015))
    return {"screen_name": screen, "name": name, "description": bio,
            "default_profile_image": default_img, "verified": verified,
            "lang": pa.array(lang.astype(str)), "url": url}


# ---------------------------------------------------------------------------------------------
# One day of events
# ---------------------------------------------------------------------------------------------
def _to_us(d: date | datetime) -> int:
    dt = d if isinstance(d, datetime) else datetime(d.year, d.month, d.day)
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _ts(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[us]"))


def _sample_times(rng: np.random.Generator, profile: np.ndarray, offset_h: np.ndarray,
                  day_start: int) -> np.ndarray:
    """Times within one UTC day, following each row's local-hour activity profile."""
    u = rng.random(len(profile))
    local = np.empty(len(profile), np.int64)
    for p in range(len(_PROFILES)):
        m = profile == p
        local[m] = np.searchsorted(_PROFILE_CDF[p], u[m], side="right")
    utc_h = (np.minimum(local, 23) - offset_h) % 24
    return day_start + utc_h * _US_PER_H + rng.integers(0, _US_PER_H, len(profile))


def _repeat_by_rate(rng: np.random.Generator, rate: np.ndarray) -> np.ndarray:
    """Account indices, each repeated Poisson(rate) times."""
    return np.repeat(np.arange(len(rate)), rng.poisson(rate))


def _sorted_by_time(t: np.ndarray, *cols: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(t, kind="stable")
    return (t[order], *(c[order] for c in cols))


def _day_events(pop: _Population, cfg: SimulationConfig, day: int,
                suspended_us: np.ndarray | None = None) -> dict[str, pa.Table]:
    """Generate one day's event tables (without ``_loaded_at``) from an RNG seeded by day.

    With ``suspended_us`` (per account, when it was first suspended; int64 max for never),
    the day's events of accounts suspended before them are dropped afterwards, so every
    random draw, and every event before a suspension, is the same as without it; the
    day's own suspensions are written into ``suspended_us``.
    """
    rng = np.random.default_rng([cfg.seed, 1, day])
    day_start = _to_us(cfg.start_date) + day * _US_PER_DAY
    day_end = day_start + _US_PER_DAY
    base_id = (day + 1) * _ID_STRIDE
    alive = (pop.created_us < day_end).astype(float)
    kind = pop.kind

    # ---- posts --------------------------------------------------------------------------
    author = _repeat_by_rate(rng, pop.post_rate * alive)
    t = _sample_times(rng, pop.profile[author], pop.offset_h[author], day_start)
    keep = t >= pop.created_us[author]
    t, author = _sorted_by_time(t[keep], author[keep])
    m = len(author)
    post_id = base_id + np.arange(m)
    k = kind[author]
    # Replies point at an earlier post of the same day.
    p_reply = np.asarray([0.3, 0.35, 0.2, 0.05, 0.1, 0.02, 0.25, 0.05])[k]
    is_reply = (rng.random(m) < p_reply) & (np.arange(m) > 0)
    parent = (rng.random(m) * np.arange(m)).astype(np.int64)
    reply_to = np.where(is_reply, post_id[parent], 0)
    # Mentions: humans mention friends, spam and drift bots spray random accounts.
    lam = np.asarray([0.25, 0.4, 0.6, 0.3, 2.0, 0.0, 0.3, 4.5])[k]
    n_ment = rng.poisson(lam)
    n_ment = np.where(k == SPAM, np.maximum(n_ment, 1), n_ment)
    n_ment = np.where(k == DRIFT, np.clip(n_ment, 3, 8), np.minimum(n_ment, 8))
    n_ment = np.where(is_reply, np.maximum(n_ment, 1), n_ment)
    offs = np.zeros(m + 1, np.int64)
    np.cumsum(n_ment, out=offs[1:])
    owner = np.repeat(np.arange(m), n_ment)
    slot = np.arange(offs[-1]) - offs[owner]
    friendly = np.isin(k, [HUMAN, POWER, SMM, BRAND, CAREFUL])[owner]
    s0, step = rng.integers(0, _N_FRIENDS, m), rng.integers(1, _N_FRIENDS, m)
    fslot = (s0[owner] + slot * step[owner]) % _N_FRIENDS
    friend_t = pop.friends[author[owner], fslot].astype(np.int64)
    random_t = pop.pool[rng.integers(0, len(pop.pool), len(owner))]
    target = np.where(friendly & (rng.random(len(owner)) < 0.85), friend_t, random_t)
    first = slot == 0
    target = np.where(first & is_reply[owner], author[parent[owner]], target)
    mentions = pa.ListArray.from_arrays(pa.array(offs), pa.array(target + 1))
    text = _post_text(rng, pop, author, k, n_ment, offs, target)
    posts = pa.table({
        "id": post_id, "account_id": author + 1, "created_at": _ts(t), "text": text,
        "in_reply_to_post_id": pa.array(reply_to, mask=~is_reply),
        "mentioned_account_ids": mentions,
    })

    # ---- logins -------------------------------------------------------------------------
    la = _repeat_by_rate(rng, pop.login_rate * alive)
    lt = _sample_times(rng, pop.profile[la], pop.offset_h[la], day_start)
    keep = lt >= pop.created_us[la]
    lt, la = _sorted_by_time(lt[keep], la[keep])
    u = rng.random(len(la))
    shared = pop.shared_ip[la] + rng.integers(0, 1 << 30, len(la)) % pop.shared_n[la]
    ip = np.where(u < pop.p_shared[la], shared,
                  np.where(u < pop.p_shared[la] + pop.p_home[la], pop.home_ip[la],
                           _random_ips(rng, len(la), first=[31, 37, 46, 77, 82, 176, 188])))
    device = pop.dev_base[la] + rng.integers(0, 1 << 30, len(la)) % pop.dev_n[la]
    cum = np.cumsum(_LOGIN_P, axis=1)[kind[la]]
    result = (rng.random(len(la))[:, None] > cum[:, :3]).sum(1).astype(np.int8)
    logins = pa.table({"id": base_id + np.arange(len(la)), "account_id": la + 1,
                       "attempted_at": _ts(lt), "ip": ip, "device_id": device,
                       "result": result})

    # ---- follows ------------------------------------------------------------------------
    fa = _repeat_by_rate(rng, pop.follow_rate * alive)
    ft = _sample_times(rng, pop.profile[fa], pop.offset_h[fa], day_start)
    fk = kind[fa]
    u = rng.random(len(fa))
    popular = pop.pool[np.minimum(np.searchsorted(pop.popularity_cdf, rng.random(len(fa))),
                                  len(pop.pool) - 1)]
    friend = pop.friends[fa, rng.integers(0, _N_FRIENDS, len(fa))].astype(np.int64)
    random_a = pop.pool[rng.integers(0, len(pop.pool), len(fa))]
    customer = pop.bn_customers[np.maximum(pop.botnet[fa], 0),
                                rng.integers(0, 10, len(fa))]
    followee = np.where(np.isin(fk, [HUMAN, POWER, SMM, BRAND, CAREFUL]),
                        np.where(u < 0.4, friend, popular),
                        np.where(fk == FAKE, np.where(u < 0.4, customer, random_a),
                                 np.where(u < 0.5, popular, random_a)))
    keep = (followee != fa) & (ft >= pop.created_us[fa])
    ft, fa, followee = _sorted_by_time(ft[keep], fa[keep], followee[keep])
    follows = pa.table({"id": base_id + np.arange(len(fa)), "follower_id": fa + 1,
                        "followee_id": followee + 1, "created_at": _ts(ft)})

    # ---- interactions -------------------------------------------------------------------
    ia = _repeat_by_rate(rng, pop.interact_rate * alive)
    ik = kind[ia]
    if m:
        post_w = np.cumsum(_post_weight(pop, author))
        post_w /= post_w[-1]
        target_post = np.minimum(np.searchsorted(post_w, rng.random(len(ia))), m - 1)
        # Botnet members amplify each other's posts of the day.
        bn_post = np.flatnonzero(pop.botnet[author] >= 0)
        if len(bn_post):
            bn_of = pop.botnet[author[bn_post]]
            order = np.argsort(bn_of, kind="stable")
            bn_post, bn_of = bn_post[order], bn_of[order]
            my_bn = pop.botnet[ia]
            lo = np.searchsorted(bn_of, my_bn)
            cnt = np.searchsorted(bn_of, my_bn, side="right") - lo
            amp = (np.isin(ik, [SPAM, DRIFT, FAKE])) & (cnt > 0) & (rng.random(len(ia)) < 0.5)
            pick = lo + (rng.random(len(ia)) * np.maximum(cnt, 1)).astype(np.int64)
            target_post = np.where(amp, bn_post[np.minimum(pick, len(bn_post) - 1)],
                                   target_post)
        delay_mean = np.asarray([3, 1.5, 1, 2, 0.2, 0.5, 2, 0.3])[ik] * _US_PER_H
        it = t[target_post] + rng.exponential(1.0, len(ia)) * delay_mean
        it = it.astype(np.int64)
        cum = np.cumsum(_ACTION_P, axis=1)[ik]
        action = (rng.random(len(ia))[:, None] > cum[:, :2]).sum(1).astype(np.int8)
        keep = (it < day_end) & (author[target_post] != ia) & (it >= pop.created_us[ia])
        it, ia, target_post, action = _sorted_by_time(it[keep], ia[keep], target_post[keep],
                                                      action[keep])
    else:
        it = ia = target_post = action = np.zeros(0, np.int64)
    interactions = pa.table({"id": base_id + np.arange(len(ia)), "account_id": ia + 1,
                             "post_id": post_id[target_post] if m else target_post,
                             "action": action.astype(np.int8), "created_at": _ts(it)})

    # ---- ops reviews --------------------------------------------------------------------
    eligible = pop.created_us + _US_PER_DAY < day_start
    ra = np.flatnonzero((rng.random(pop.n) < pop.review_hazard) & eligible)
    rt = day_start + rng.integers(0, _US_PER_DAY, len(ra))
    rk = kind[ra]
    truth = np.where(rk == FAKE, 1, np.where(rk >= SPAM, 0, 2))  # decision index
    warned = rng.random(len(ra)) < np.where(rk >= SPAM, 0.15, 0.12)
    truth = np.where(warned, 3, truth)
    # Reviewer bias (biased_region): the region's humans are wrongly suspended far more often,
    # so the labels, and a model trained on them, hold their look against them. The same one
    # draw per review keeps every other simulation's rows unchanged.
    noise = np.full(len(ra), cfg.label_noise)
    if cfg.biased_region is not None:
        in_region = pop.region[ra] == cfg.regions.index(cfg.biased_region)
        noise[in_region & (rk < SPAM)] = max(cfg.label_noise, _BIASED_REVIEW_ERROR)
    wrong = rng.random(len(ra)) < noise
    flip = np.where(rk >= SPAM, 2, np.where(rng.random(len(ra)) < 0.6, 0, 1))
    decision = np.where(wrong, flip, truth).astype(np.int8)
    rt, ra, decision = _sorted_by_time(rt, ra, decision)
    reviews = pa.table({"id": base_id + np.arange(len(ra)), "account_id": ra + 1,
                        "reviewed_at": _ts(rt), "decision": decision,
                        "reports": rng.poisson(np.where(kind[ra] >= SPAM, 6, 2)),
                        "note_idx": rng.integers(0, 1 << 30, len(ra))})
    tables = {"posts": posts, "logins": logins, "follows": follows,
              "interactions": interactions, "ops_reviews": reviews}
    if suspended_us is None:
        return tables
    # One review per account per day: reviews of accounts suspended on an earlier day go,
    # then the day's suspensions stop their accounts' later events of the day too.
    kept = rt < suspended_us[ra]
    now = kept & (decision <= 1)  # suspended_spam, suspended_fake_followers
    suspended_us[ra[now]] = rt[now]
    tables["ops_reviews"] = reviews.filter(pa.array(kept))
    return _drop_after_suspension(tables, suspended_us, author, t, it, ia, la, lt, fa, ft)


def _drop_after_suspension(tables: dict[str, pa.Table], suspended_us: np.ndarray,
                           author: np.ndarray, t: np.ndarray, it: np.ndarray, ia: np.ndarray,
                           la: np.ndarray, lt: np.ndarray, fa: np.ndarray,
                           ft: np.ndarray) -> dict[str, pa.Table]:
    """Drop the events of accounts made at or after their suspension; replies and
    interactions lose a dropped post (the reply stays, as a post; the interaction goes)."""
    posts = tables["posts"]
    keep_post = t < suspended_us[author]
    ids = posts.column("id").to_numpy()
    reply_to = posts.column("in_reply_to_post_id").combine_chunks()
    is_reply = reply_to.is_valid().to_numpy(zero_copy_only=False)
    parent = reply_to.fill_null(0).to_numpy()
    is_reply &= np.isin(parent, ids[keep_post])
    posts = posts.set_column(posts.schema.get_field_index("in_reply_to_post_id"),
                             "in_reply_to_post_id", pa.array(parent, mask=~is_reply))
    interactions = tables["interactions"]
    keep_int = (it < suspended_us[ia]) & np.isin(interactions.column("post_id").to_numpy(),
                                                 ids[keep_post])
    return {**tables, "posts": posts.filter(pa.array(keep_post)),
            "logins": tables["logins"].filter(pa.array(lt < suspended_us[la])),
            "follows": tables["follows"].filter(pa.array(ft < suspended_us[fa])),
            "interactions": interactions.filter(pa.array(keep_int))}


def _post_weight(pop: _Population, author: np.ndarray) -> np.ndarray:
    """How likely a post attracts interactions: its author's popularity."""
    w = np.diff(pop.popularity_cdf, prepend=0.0)
    full = np.zeros(pop.n)
    full[pop.pool] = w
    full[pop.kind == DRIFT] = w.mean() * 0.2
    return full[author] + 1e-12


def _post_text(rng: np.random.Generator, pop: _Population, author: np.ndarray, k: np.ndarray,
               n_ment: np.ndarray, offs: np.ndarray, target: np.ndarray) -> pa.Array:
    """Post texts: a mention prefix plus a body in the author's style."""
    m = len(author)
    if m == 0:
        return pa.array([], pa.string())
    screen = pop.static["screen_name"]
    # "@name" for the first three mentions.
    prefix_parts = []
    for j in range(3):
        has = n_ment > j
        idx = np.where(has, target[np.minimum(offs[:-1] + j, max(len(target) - 1, 0))]
                       if len(target) else 0, 0)
        sn = pc.take(screen, pa.array(idx, mask=~has))
        prefix_parts.append(pc.binary_join_element_wise(pa.scalar("@"), sn, "",
                                                        null_handling="emit_null"))
    prefix = _join(*prefix_parts)

    style = np.select([k == BRAND, k == SPAM, k == FAKE, k == DRIFT], [1, 2, 3, 4], 0)
    order = np.argsort(style, kind="stable")
    bodies = []
    for s in range(5):
        sel = order[style[order] == s]
        g = len(sel)
        if g == 0:
            continue
        url = _join("https://bit.ly/", _num(rng.integers(1 << 20, 1 << 34, g)), sep="")
        if s == 0:  # human-like: varied words, hashtags, links (careful bots link more)
            n_w = rng.integers(3, 15, g)
            cdf = _ZIPF_CDF
            cols = [_take(_WORDS, np.searchsorted(cdf, rng.random(g)), mask=j >= n_w)
                    for j in range(14)]
            tag = _join("#", _take(_HASHTAGS, rng.integers(0, len(_HASHTAGS), g),
                                   mask=rng.random(g) > 0.15), sep="")
            tag = pc.if_else(pc.equal(tag, "#"), pa.scalar(None, pa.string()), tag)
            p_url = np.where(k[sel] == CAREFUL, 0.35, np.where(k[sel] == SMM, 0.3, 0.04))
            link = pc.if_else(pa.array(rng.random(g) < p_url), url, pa.scalar(None, pa.string()))
            body = _join(*cols, tag, link)
        elif s in (1, 2):  # templates with numeric slots
            tpl = _BRAND_TPL if s == 1 else _SPAM_TPL
            if s == 2:
                ti = (pop.bn_template[np.maximum(pop.botnet[author[sel]], 0)]
                      + rng.integers(0, 3, g)) % len(tpl)
            else:
                ti = rng.integers(0, len(tpl), g)
            a = _take([x[0] for x in tpl], ti)
            b = _take([x[1] for x in tpl], ti)
            body = _join(a, _num(rng.integers(2, 1000, g)), b, url)
        elif s == 3:
            body = _take(_FAKE_PHRASES, rng.integers(0, len(_FAKE_PHRASES), g))
        else:  # drift wave: short, link-heavy
            w1 = _take(_DRIFT_WORDS, rng.integers(0, len(_DRIFT_WORDS), g))
            w2 = _take(_DRIFT_WORDS, rng.integers(0, len(_DRIFT_WORDS), g))
            url2 = _join("https://t.co/", _num(rng.integers(1 << 20, 1 << 34, g)), sep="")
            url2 = pc.if_else(pa.array(rng.random(g) < 0.5), url2, pa.scalar(None, pa.string()))
            body = _join(w1, w2, url, url2)
        bodies.append(body)
    inverse = np.empty(m, np.int64)
    inverse[order] = np.arange(m)
    body = pc.take(pa.concat_arrays(bodies), pa.array(inverse))
    return _join(prefix, body)


_ZIPF_CDF = np.cumsum(1.0 / (np.arange(len(_WORDS)) + 8.0))
_ZIPF_CDF /= _ZIPF_CDF[-1]
_ZIPF_CDF[-1] = 1.0 + 1e-9  # searchsorted never runs off the end


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
_INSERT = {
    "posts": "select id, account_id, created_at, text, in_reply_to_post_id, "
             "mentioned_account_ids, {loaded}",
    "logins": "select id, account_id, attempted_at, " + _ip_str("ip")
              + ", lower(hex(device_id)), {results}[result + 1], {loaded}",
    "follows": "select id, follower_id, followee_id, created_at, {loaded}",
    "interactions": "select id, account_id, post_id, {actions}[action + 1], created_at, {loaded}",
    "ops_reviews": "select id, account_id, reviewed_at, {decisions}[decision + 1], "
                   "reports || ' user reports; ' || {notes}[decision + 1]"
                   "[note_idx % len({notes}[decision + 1]) + 1], {loaded}",
}


def _sql_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _insert_sql(table: str, loaded: str) -> str:
    notes = "[" + ", ".join(_sql_list(_NOTES[d]) for d in REVIEW_DECISIONS) + "]"
    body = _INSERT[table].format(
        loaded=loaded, results=_sql_list(LOGIN_RESULTS), actions=_sql_list(INTERACTION_ACTIONS),
        decisions=_sql_list(REVIEW_DECISIONS), notes=notes)
    return f"insert into {RAW_SCHEMA}.{table} {body} from _day_batch"


@contextmanager
def _connect(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open (or create) the warehouse for writing; a lock held elsewhere becomes a BotsiftError."""
    con = connect_warehouse(warehouse, create=True)
    try:
        con.execute("set preserve_insertion_order = false")
        con.execute("set memory_limit = '3GB'")
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        yield con
    finally:
        con.close()


def _loaded_literal() -> str:
    now = datetime.now(UTC).replace(tzinfo=None)
    return f"timestamp '{now.isoformat(sep=' ')}'"


def _progress(total: int, label: str):  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True,
                    disable=not sys.stderr.isatty()), label, total


def _suspended_at(con: duckdb.DuckDBPyConnection, pop: _Population,
                  cfg: SimulationConfig) -> np.ndarray | None:
    """When each account was first suspended, from the reviews written so far (int64 max
    for never); None unless ``cfg.enforce_suspensions``."""
    if not cfg.enforce_suspensions:
        return None
    out = np.full(pop.n, np.iinfo(np.int64).max, np.int64)
    rows = con.execute(
        f"select account_id, epoch_us(min(reviewed_at)) as suspended_us "
        f"from {RAW_SCHEMA}.ops_reviews where list_contains(?, decision) group by account_id",
        [list(REVIEW_DECISIONS[:2])]).fetchnumpy()
    out[np.asarray(rows["account_id"], np.int64) - 1] = np.asarray(rows["suspended_us"], np.int64)
    return out


def _write_days(con: duckdb.DuckDBPyConnection, pop: _Population, cfg: SimulationConfig,
                days: range, loaded: str) -> None:
    """Generate and append the event rows of ``days``, one day at a time."""
    suspended_us = _suspended_at(con, pop, cfg)
    progress, label, total = _progress(len(days), "simulating days")
    sqls = {t: _insert_sql(t, loaded) for t in EVENT_TABLES}
    with progress:
        task = progress.add_task(label, total=total)
        for day in days:
            tables = _day_events(pop, cfg, day, suspended_us)
            for name, tbl in tables.items():
                con.register("_day_batch", tbl)
                con.execute(sqls[name])
                con.unregister("_day_batch")
            log.debug("day %d: %s", day, {n: t.num_rows for n, t in tables.items()})
            progress.advance(task)


def _write_accounts(con: duckdb.DuckDBPyConnection, pop: _Population, cfg: SimulationConfig,
                    days: int, loaded: str) -> None:
    """(Re)write raw.accounts and the truth table as of the end of ``days`` days."""
    end_us = _to_us(cfg.start_date) + days * _US_PER_DAY
    exists = pop.created_us < end_us
    idx = np.flatnonzero(exists)
    s = pop.static
    acc = pa.table({
        "id": idx + 1, "created_at": _ts(pop.created_us[idx]),
        "region": pc.take(pa.array(list(cfg.regions)), pa.array(pop.region[idx])),
        "signup_ip": s["signup_ip"][idx], "signup_device": s["signup_device"][idx],
        "signup_client": s["signup_client"][idx],
        "screen_name": pc.take(s["screen_name"], pa.array(idx)),
        "name": pc.take(s["name"], pa.array(idx)),
        "description": pc.take(s["description"], pa.array(idx)),
        "default_profile_image": s["default_profile_image"][idx],
        "verified": s["verified"][idx], "lang": pc.take(s["lang"], pa.array(idx)),
        "url": pc.take(s["url"], pa.array(idx)),
        "pre_followers": s["pre_followers"][idx], "pre_friends": s["pre_friends"][idx],
        "pre_statuses": s["pre_statuses"][idx], "pre_likes": s["pre_likes"][idx],
        "listed": s["listed"][idx],
    })
    exported = f"timestamp '{datetime.fromtimestamp(end_us / 1e6, UTC).replace(tzinfo=None)}'"
    r = RAW_SCHEMA
    con.execute(f"drop table if exists {r}.accounts")
    con.execute(raw_ddl("accounts"))
    con.register("_acc", acc)
    # Follower and following counters count distinct accounts, as a platform's do: the log
    # repeats some pairs, and fct_account_features rolls counters back by each pair's first
    # follow (int_follows__edges), so counting events would leave repeats in past snapshots.
    con.execute(f"""
        insert into {r}.accounts
        with posts as (select account_id, count(*) as n from {r}.posts group by all),
        friends as (select follower_id as account_id, count(distinct followee_id) as n
                    from {r}.follows group by all),
        followers as (select followee_id as account_id, count(distinct follower_id) as n
                      from {r}.follows group by all),
        likes as (select account_id, count(*) as n from {r}.interactions
                  where action = 'like' group by all)
        select a.id, a.created_at, a.region, {_ip_str('a.signup_ip')},
            lower(hex(a.signup_device)), {_sql_list(SIGNUP_CLIENTS)}[a.signup_client + 1],
            a.screen_name, a.name, a.description, a.default_profile_image, a.verified, a.lang,
            a.url, a.pre_followers + coalesce(followers.n, 0),
            a.pre_friends + coalesce(friends.n, 0), a.pre_statuses + coalesce(posts.n, 0),
            a.pre_likes + coalesce(likes.n, 0), a.listed, {exported}, {loaded}
        from _acc as a
        left join posts on posts.account_id = a.id
        left join friends on friends.account_id = a.id
        left join followers on followers.account_id = a.id
        left join likes on likes.account_id = a.id
    """)
    con.unregister("_acc")
    truth = pa.table({
        "account_id": idx + 1, "is_bot": pop.kind[idx] >= SPAM,
        "bot_family": pc.take(pa.array([None] * 4 + [_FAMILY[k] for k in range(4, 8)],
                                       pa.string()), pa.array(pop.kind[idx])),
        "botnet_id": pa.array(pop.botnet[idx].astype(np.int64), mask=pop.botnet[idx] < 0),
        "kind": pop.kind[idx],
    })
    con.register("_truth", truth)
    con.execute(f"create or replace table {r}._simulation_truth as "
                "select account_id, is_bot, bot_family, botnet_id, "
                "['human', 'power_user', 'social_media_manager', 'brand', 'spam', "
                "'fake_follower', 'careful', 'drift_wave'][kind + 1] as account_kind "
                "from _truth order by account_id")
    con.unregister("_truth")


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    counts = {}
    for t in RAW_TABLES:
        row = con.execute(f"select count(*) from {RAW_SCHEMA}.{t}").fetchone()
        counts[t] = int(row[0]) if row else 0
    return counts


def _save_config(con: duckdb.DuckDBPyConnection, cfg: SimulationConfig) -> None:
    con.execute(f"create or replace table {RAW_SCHEMA}._simulation "
                "(config_json varchar, days_simulated integer, updated_at timestamp)")
    con.execute(f"insert into {RAW_SCHEMA}._simulation values (?, ?, ?)",
                [cfg.to_json(), cfg.days, datetime.now(UTC).replace(tzinfo=None)])


def simulate_platform(config: SimulationConfig, warehouse: Path) -> dict[str, int]:
    """Simulate a platform and write (replace) the raw tables in ``warehouse``.

    Parameters
    ----------
    config : SimulationConfig
        What to simulate.
    warehouse : Path
        The DuckDB file; its parent folder is created if needed.

    Returns
    -------
    dict of str to int
        Rows per raw table.

    Raises
    ------
    BotsiftError
        If the config is invalid or the warehouse is locked by another process.
    """
    config.validate()
    log.info("simulating %s accounts x %s days into %s", f"{config.n_accounts:,}", config.days,
             warehouse)
    pop = _population(config)
    loaded = _loaded_literal()
    with _connect(warehouse) as con:
        for table in RAW_TABLES:
            con.execute(f"drop table if exists {RAW_SCHEMA}.{table}")
            con.execute(raw_ddl(table))
        _write_days(con, pop, config, range(config.days), loaded)
        _write_accounts(con, pop, config, config.days, loaded)
        _save_config(con, config)
        counts = _counts(con)
        warn_if_built(con, "botsift simulate")
    log.info("wrote %s", counts)
    return counts


def extend_simulation(warehouse: Path, days: int) -> dict[str, int]:
    """Append ``days`` further days to the simulation stored in ``warehouse``.

    Event tables get the rows of days ``[n, n + days)`` (``n`` = days simulated so far),
    identical to what a one-shot simulation of ``n + days`` days writes; raw.accounts is
    rewritten with counters and ``exported_at`` as of the new end.

    Parameters
    ----------
    warehouse : Path
        A DuckDB file written by :func:`simulate_platform`.
    days : int
        How many days to append (at least 1).

    Returns
    -------
    dict of str to int
        Rows per raw table after the extension.

    Raises
    ------
    BotsiftError
        If ``days`` < 1, the warehouse holds no simulation, or it is locked.
    """
    if days < 1:
        raise BotsiftError(f"days={days}: extend by at least 1 day")
    if not Path(warehouse).is_file():
        raise BotsiftError(f"no warehouse at {warehouse}: run `botsift simulate` first")
    loaded = _loaded_literal()
    with _connect(warehouse) as con:
        try:
            row = con.execute(
                f"select config_json, days_simulated from {RAW_SCHEMA}._simulation").fetchone()
        except duckdb.CatalogException:
            row = None
        if row is None:
            raise BotsiftError(f"{warehouse} holds no simulation (raw._simulation is missing): "
                               "run `botsift simulate` first")
        text, done = row
        cfg = replace(SimulationConfig.from_json(text), days=done + days)
        log.info("extending simulation in %s by %d day%s (days %d-%d)", warehouse, days,
                 "" if days == 1 else "s", done,
                 done + days - 1)
        pop = _population(cfg)
        _write_days(con, pop, cfg, range(done, done + days), loaded)
        _write_accounts(con, pop, cfg, cfg.days, loaded)
        _save_config(con, cfg)
        counts = _counts(con)
    return counts
